// The operators' feed page: reads GET /admin/feed/stats (the same login) and draws it with Chart.js.
(function () {
  'use strict';
  var ACTIONS = ['VIEW', 'CLICK', 'SAVE', 'APPLY', 'DISMISS'];
  var POSITIVE = ['CLICK', 'SAVE', 'APPLY'];
  var COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];
  var charts = {};
  window.feedCharts = charts;

  var day = function (offset) {
    return new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
  };
  var form = document.getElementById('range');
  var status = document.getElementById('status');
  var params = new URLSearchParams(location.search);
  form.from.value = params.get('from') || day(-13);
  form.to.value = params.get('to') || day(0);

  var rate = function (n, d) {
    return d > 0 ? n / d : 0;
  };
  var positive = function (engaged) {
    return POSITIVE.reduce(function (sum, action) {
      return sum + engaged[action];
    }, 0);
  };
  var percent = function (x) {
    return (100 * x).toFixed(2) + ' %';
  };

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ animation: false, responsive: true }, config.options);
    config.options.scales = Object.assign({ y: {} }, config.options.scales);
    config.options.scales.y.beginAtZero = true;
    charts[id] = new Chart(document.getElementById(id), config);
  }

  function render(stats) {
    // Every day of the range, those without a page served too.
    var dates = [];
    for (var t = Date.parse(form.from.value); t <= Date.parse(form.to.value); t += 86400000) {
      dates.push(new Date(t).toISOString().slice(0, 10));
    }
    var variants = stats.variants.map(function (v) {
      return v.variant;
    });
    var of = function (variant, date) {
      return stats.days.find(function (d) {
        return d.variant === variant && d.date === date;
      });
    };
    var series = function (pick) {
      return variants.map(function (variant, i) {
        return {
          label: variant,
          borderColor: COLOURS[i % COLOURS.length],
          backgroundColor: COLOURS[i % COLOURS.length],
          data: dates.map(function (date) {
            var d = of(variant, date);
            return d ? pick(d) : 0;
          }),
        };
      });
    };

    draw('impressions', {
      type: 'line',
      data: {
        labels: dates,
        datasets: series(function (d) {
          return d.impressions;
        }),
      },
    });
    var engagement = [];
    variants.forEach(function (variant, v) {
      ACTIONS.forEach(function (action, a) {
        engagement.push({
          label: variants.length > 1 ? variant + ' ' + action : action,
          borderColor: COLOURS[(a + v * ACTIONS.length) % COLOURS.length],
          borderDash: v > 0 ? [6, 3] : [],
          data: dates.map(function (date) {
            var d = of(variant, date);
            return d ? rate(d.engaged[action], d.impressions) : 0;
          }),
        });
      });
    });
    draw('engagement', {
      type: 'line',
      data: { labels: dates, datasets: engagement },
      options: { scales: { y: { ticks: { format: { style: 'percent' } } } } },
    });
    var positions = Array.from({ length: 20 }, function (_, i) {
      return i + 1;
    });
    draw('positions', {
      type: 'bar',
      data: {
        labels: positions,
        datasets: variants.map(function (variant, i) {
          var days = stats.days.filter(function (d) {
            return d.variant === variant;
          });
          return {
            label: variant,
            backgroundColor: COLOURS[i % COLOURS.length],
            data: positions.map(function (p) {
              var shown = 0,
                engaged = 0;
              days.forEach(function (d) {
                shown += d.byPosition[p - 1].impressions;
                engaged += positive(d.byPosition[p - 1].engaged);
              });
              return rate(engaged, shown);
            }),
          };
        }),
      },
      options: { scales: { x: { title: { display: true, text: 'position' } }, y: { ticks: { format: { style: 'percent' } } } } },
    });
    draw('coverage', {
      type: 'line',
      data: {
        labels: dates,
        datasets: series(function (d) {
          return d.coverage;
        }),
      },
      options: { scales: { y: { min: 0, ticks: { format: { style: 'percent' } } } } },
    });

    var body = document.querySelector('#variants tbody');
    body.textContent = '';
    stats.variants.forEach(function (v) {
      var row = body.insertRow();
      var diff = v.difference
        ? percent(v.difference.estimate) + ' (' + percent(v.difference.low) + ' to ' + percent(v.difference.high) + ')'
        : '—';
      [v.variant, v.impressions, v.positive, percent(v.rate), diff].forEach(function (text) {
        row.insertCell().textContent = String(text);
      });
    });
    status.textContent = stats.days.length === 0 ? 'No feed page was served in this range.' : '';
    document.body.dataset.rendered = 'true';
  }

  function load() {
    status.textContent = 'Loading…';
    fetch('/admin/feed/stats?from=' + form.from.value + '&to=' + form.to.value, { credentials: 'same-origin' })
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) throw new Error(body.error ? body.error.message : 'HTTP ' + res.status);
          return body;
        });
      })
      .then(render)
      .catch(function (error) {
        status.textContent = 'Could not load the statistics: ' + error.message;
      });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    history.replaceState(null, '', '?from=' + form.from.value + '&to=' + form.to.value);
    load();
  });
  load();
})();
