/** An SVG line chart of HR@k curves (k = 1, 2, …), one line per recommender, for a file beside the eval's table. */
export function hitRateChart(title: string, curves: Record<string, number[]>): string {
  const width = 800;
  const height = 420;
  const left = 60;
  const right = 250;
  const top = 40;
  const bottom = 50;
  const depth = Math.max(...Object.values(curves).map((c) => c.length));
  const peak = Math.max(0.01, ...Object.values(curves).flat());
  const yMax = Math.ceil(peak * 20) / 20;
  const x = (k: number) => left + ((k - 1) / Math.max(1, depth - 1)) * (width - left - right);
  const y = (v: number) => top + (1 - v / yMax) * (height - top - bottom);
  const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
  const parts: string[] = [];
  for (let i = 0; i <= 5; i += 1) {
    const v = (yMax * i) / 5;
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  for (const k of [1, 10, 20, 30, 40, 50].filter((k) => k <= depth)) {
    parts.push(`<text x="${x(k)}" y="${height - bottom + 18}" text-anchor="middle">${k}</text>`);
  }
  Object.entries(curves).forEach(([name, curve], i) => {
    const colour = colours[i % colours.length];
    const points = curve.map((v, k) => `${x(k + 1).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>`);
    const label = `${escape(name)} (HR@10 ${(curve[9] ?? 0).toFixed(3)})`;
    parts.push(`<text x="${width - right + 10}" y="${top + 16 + i * 20}" fill="${colour}">${label}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${left}" y="24" font-size="14">${escape(title)}</text>
<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">k</text>
<text x="16" y="${(top + height - bottom) / 2}" transform="rotate(-90 16 ${(top + height - bottom) / 2})" text-anchor="middle">HR@k</text>
${parts.join('\n')}
</svg>
`;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
