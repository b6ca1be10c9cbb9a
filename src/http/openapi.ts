import path from 'node:path';
import express, { Router } from 'express';
import { z } from 'zod';
import {
  acceptedInteraction,
  addedEntry,
  applicationBody,
  batchBody,
  batchResponse,
  collectionEntry,
  collectionResponse,
  errorResponse,
  eventResponse,
  feedPage,
  feedQuery,
  gigApplicationResponse,
  idempotencyKey,
  interactionBody,
  newCollectionBody,
  newCollectionResponse,
  newEntryBody,
  newEventBody,
  page,
  pageQuery,
  similarEvents,
  similarQuery,
} from './schemas';

// The document is generated from the zod schemas the routes validate with and answer to
// (schemas.ts): requests as the client sends them, responses as the service writes them.

/** JSON Schema of a zod schema; schemas with an id become references to components. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): object {
  const { $schema: _, $defs: __, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return JSON.parse(JSON.stringify(rest).replaceAll('"#/$defs/', '"#/components/schemas/')) as object;
}

const request = (schema: z.ZodType) => jsonSchema(schema, 'input');
const response = (schema: z.ZodType) => jsonSchema(schema, 'output');
const json = (schema: z.ZodType, description = 'OK') => ({ description, content: { 'application/json': { schema: response(schema) } } });
const error = (description: string) => ({ description, content: { 'application/json': { schema: response(errorResponse) } } });
const body = (schema: z.ZodType, required = true) => ({ required, content: { 'application/json': { schema: request(schema) } } });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const queryParameters = (schema: z.ZodObject) =>
  Object.entries(schema.shape).map(([name, field]) => {
    const { description, ...fieldSchema } = request(field as z.ZodType) as { description?: string; type?: string; pattern?: string };
    // A number's text pattern is the validation's business, not the parameter's type.
    if (fieldSchema.type === 'integer') delete fieldSchema.pattern;
    const absent = (field as z.ZodType).safeParse(undefined);
    const fallback = absent.success && absent.data !== undefined ? { default: absent.data } : {};
    return { name, in: 'query', required: false, description, schema: { ...fieldSchema, ...fallback } };
  });
const anyObject = { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } };
/** /readyz's answer: each dependency's state, or {status: 'draining'} while the process stops. */
const readiness = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { enum: ['ready', 'unavailable', 'draining'] },
    database: { type: 'boolean' },
    redis: { type: 'boolean' },
    migrations: { type: 'boolean' },
  },
};

const common = {
  401: error('No valid bearer token'),
  400: error('Invalid input (validation_failed)'),
  503: error('PostgreSQL or Redis unavailable; see Retry-After'),
};
// What a route reading a body may also answer 400 with.
const BODY_400 = 'a body that is not a JSON object or array (invalid_json) or could not be read, cut off or not decoding (bad_request)';
const badBody = (also = '') => ({ 400: error(`Invalid input (validation_failed)${also}; ${BODY_400}`) });
const badCursor = { 400: error('Invalid input (validation_failed); a cursor expired, replaced or of another feed (invalid_cursor)') };
const write = { 429: error('Too many writes by this user (RATE_LIMIT_WRITES_PER_MINUTE); see Retry-After') };
const read = { 429: error('Too many reads by this user (RATE_LIMIT_READS_PER_MINUTE); see Retry-After') };
const pageParameters = queryParameters(pageQuery);
const withBody = {
  408: error('The body did not arrive within BODY_TIMEOUT_MS of the route starting to read it; the connection is closed (request_timeout)'),
  413: error('Body too large'),
  415: error('Not UTF-8 JSON'),
  ...write,
};
const open = { security: [] };
const admin = { security: [{ basicAuth: [] }, { bearerAuth: [] }] };
// Every operators' path is behind the same guard.
const adminGuard = {
  401: error('No credentials, or wrong ones'),
  403: error('A token without the admin role (forbidden)'),
  404: error('No operators’ login configured (ADMIN_USERNAME, ADMIN_PASSWORD): not served (route_not_found)'),
  429: error('Too many failed logins from this address; see Retry-After (rate_limited)'),
};

/** Components: every schema that has an id, from the one registry. */
const components = (
  z.toJSONSchema(z.globalRegistry, { io: 'output', uri: (id) => `#/components/schemas/${id}` }) as {
    schemas: Record<string, object>;
  }
).schemas;

/** The groups the page shows operations in, by the first part of their path. */
const TAGS = {
  Interactions: 'Record what users do: one interaction, or a batch',
  Feed: "The caller's personalised feed",
  Events: 'Events and gigs',
  Collections: "The caller's collections (adding an event records a SAVE)",
  Gigs: 'Applying to gigs (records an APPLY)',
  Operations: 'Probes, metrics, the queue dashboard, feed statistics and this document',
} as const;
const TAG_OF: Record<string, keyof typeof TAGS> = {
  interactions: 'Interactions',
  recommendations: 'Feed',
  events: 'Events',
  collections: 'Collections',
  gigs: 'Gigs',
};

/** The code each error status has unless its description names another, in parentheses. */
const ERROR_CODES: Record<string, string> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
};

type Operation = { tags?: string[]; responses: Record<string, { description: string; content?: Record<string, { example?: unknown }> }> };

/** Every operation with its tag, and every error answer with an example of its body. */
function tagged<P extends Record<string, Record<string, unknown>>>(paths: P): P {
  for (const [route, operations] of Object.entries(paths)) {
    const tag = TAG_OF[route.split('/')[1] ?? ''] ?? 'Operations';
    for (const operation of Object.values(operations) as Operation[]) {
      operation.tags = [tag];
      for (const [status, answer] of Object.entries(operation.responses)) {
        const content = answer.content?.['application/json'];
        if (Number(status) < 400 || !content || 'example' in content) continue;
        const code = /\(([a-z_]+)\)/.exec(answer.description)?.[1] ?? ERROR_CODES[status] ?? 'error';
        answer.content = { 'application/json': { ...content, example: { error: { code, message: answer.description } } } };
      }
    }
  }
  return paths;
}

/** The API, described for clients; a test checks it against the routes the app really serves, and their answers. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Interaction tracking',
    version: '1.0.0',
    description:
      'Records implicit user signals (VIEW, SAVE, CLICK, APPLY, DISMISS) on events and gigs, and serves each user a personalised feed. ' +
      'Every error has the body {"error": {"code", "message"}} with a stable code.',
  },
  security: [{ bearerAuth: [] }],
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'HS256; `sub` is the user, `roles` may hold organizer, admin',
      },
      basicAuth: { type: 'http', scheme: 'basic', description: 'ADMIN_USERNAME / ADMIN_PASSWORD' },
    },
    schemas: Object.fromEntries(Object.entries(components).map(([id, schema]) => [id, withoutMetaKeys(schema)])),
  },
  tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
  paths: tagged({
    '/interactions': {
      post: {
        summary: 'Record an interaction of the caller with an event',
        description:
          'Answers 202 once the interaction is stored in the queue; a worker writes it. Send Idempotency-Key to make retries safe.',
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, ...splitDescription(request(idempotencyKey)) }],
        requestBody: body(interactionBody),
        responses: {
          202: json(acceptedInteraction, 'Queued'),
          ...common,
          ...withBody,
          ...badBody('; an occurredAt too far in the past or ahead (occurred_at_out_of_range)'),
          404: error('No such event (event_not_found)'),
        },
      },
    },
    '/interactions/batch': {
      post: {
        summary: 'Record up to 500 interactions of the caller at once, each answered on its own',
        description:
          'Answers 200 with one result per item, in order: {status: 202, id, eventId, action} for each accepted, or {status: 400 | 404 | 429, error} for each refused. ' +
          'The accepted ones are stored in Redis together before the 200; otherwise 503 and none is. The rate limit counts items: those past it get 429, and the response a Retry-After. ' +
          'Retries are made safe by the idempotencyKey of each item; an Idempotency-Key header is refused (400).',
        requestBody: body(batchBody),
        responses: {
          200: json(batchResponse, 'One result per item'),
          ...common,
          ...withBody,
          ...badBody('; an Idempotency-Key header'),
          429: error('The caller has no writes left this minute (RATE_LIMIT_WRITES_PER_MINUTE); see Retry-After'),
        },
      },
    },
    '/events': {
      post: {
        summary: 'Create an event (roles organizer or admin)',
        requestBody: body(newEventBody),
        responses: { 201: json(eventResponse, 'Created'), ...common, ...withBody, ...badBody(), 403: error('Not an organizer or admin') },
      },
    },
    '/events/{id}': {
      get: {
        summary: 'Read an event',
        parameters: [pathParam('id', 'Event id')],
        responses: { 200: json(eventResponse), 401: common[401], 404: error('No such event (event_not_found)'), 503: common[503], ...read },
      },
    },
    '/events/{id}/similar': {
      get: {
        summary:
          'Upcoming events to show beside one: what people engaged with after or together with it, then shared features and popularity',
        description:
          'Never the event itself, events that started, or events the caller interacted with. Each item carries up to three reasons (often_next, same_category, same_city, same_organizer, popular).',
        parameters: [pathParam('id', 'Event id'), ...queryParameters(similarQuery)],
        responses: { 200: json(similarEvents), ...common, 404: error('No such event (event_not_found)'), ...read },
      },
    },
    '/recommendations': {
      get: {
        summary: "The caller's personalised feed of upcoming events, optionally within filters",
        description:
          'Filters combine with AND, and the feed is ranked within them (not cut out of the unfiltered feed). Each filter set has its own frozen ranking: ' +
          'page it with nextCursor and the same filters; a cursor sent with other filters is 400 invalid_cursor.',
        parameters: queryParameters(feedQuery).map((p) =>
          p.name === 'category'
            ? { ...p, style: 'form', explode: true, schema: { type: 'array', items: { type: 'string', maxLength: 100 }, maxItems: 20 } }
            : p,
        ),
        responses: { 200: json(feedPage), ...common, ...badCursor, ...read },
      },
    },
    '/collections': {
      post: {
        summary: 'Create a collection',
        requestBody: body(newCollectionBody),
        responses: {
          201: json(newCollectionResponse, 'Created'),
          ...common,
          ...withBody,
          ...badBody(),
          409: error('The caller keeps as many collections as they may (limit_reached)'),
        },
      },
      get: {
        summary: "The caller's collections, oldest first, a page at a time",
        parameters: pageParameters,
        responses: { 200: json(page(collectionResponse)), ...common, ...badCursor, ...read },
      },
    },
    '/collections/{id}': {
      get: {
        summary: 'One of the caller’s collections',
        parameters: [pathParam('id', 'Collection id')],
        responses: {
          200: json(collectionResponse),
          401: common[401],
          404: error('No such collection of the caller (collection_not_found)'),
          503: common[503],
          ...read,
        },
      },
    },
    '/collections/{id}/events': {
      get: {
        summary: 'The events of one of the caller’s collections, newest first, a page at a time',
        parameters: [pathParam('id', 'Collection id'), ...pageParameters],
        responses: {
          200: json(page(collectionEntry)),
          ...common,
          ...badCursor,
          404: error('No such collection of the caller (collection_not_found)'),
          ...read,
        },
      },
      post: {
        summary: 'Add an event to a collection (records a SAVE)',
        parameters: [pathParam('id', 'Collection id')],
        requestBody: body(newEntryBody),
        responses: {
          201: json(addedEntry, 'Added'),
          ...common,
          ...withBody,
          ...badBody(),
          404: error('No such event (event_not_found), or no such collection of the caller (collection_not_found)'),
          409: error('Already in the collection (already_in_collection), or the caller keeps as many events as they may (limit_reached)'),
        },
      },
    },
    '/collections/{id}/events/{eventId}': {
      delete: {
        summary: 'Remove an event from a collection (the SAVE stays)',
        parameters: [pathParam('id', 'Collection id'), pathParam('eventId', 'Event id')],
        responses: {
          204: { description: 'Removed' },
          401: common[401],
          404: error('No such collection of the caller (collection_not_found)'),
          503: common[503],
          ...write,
        },
      },
    },
    '/gigs/{eventId}/applications': {
      post: {
        summary: 'Apply to a gig (records an APPLY)',
        parameters: [pathParam('eventId', 'Gig id')],
        requestBody: body(applicationBody, false),
        responses: {
          201: json(gigApplicationResponse, 'Applied'),
          ...common,
          ...withBody,
          ...badBody(),
          404: error('No such event, or it is not a gig (gig_not_found)'),
          409: error('Already applied (already_applied)'),
        },
      },
    },
    '/gigs/{eventId}/applications/me': {
      get: {
        summary: "The caller's application to a gig",
        parameters: [pathParam('eventId', 'Gig id')],
        responses: {
          200: json(gigApplicationResponse),
          401: common[401],
          404: error('No application (application_not_found)'),
          503: common[503],
          ...read,
        },
      },
    },
    '/healthz': { get: { ...open, summary: 'The process is alive', responses: { 200: anyObject } } },
    '/readyz': {
      get: {
        ...open,
        summary: 'PostgreSQL answers and Redis takes writes (checked at most once a second)',
        responses: {
          200: {
            description: 'Ready',
            content: {
              'application/json': { schema: readiness, example: { status: 'ready', database: true, redis: true, migrations: true } },
            },
          },
          503: {
            description: 'Not ready: a dependency is down or the migrations are behind, or the process is draining ({status: draining})',
            content: {
              'application/json': { schema: readiness, example: { status: 'unavailable', database: true, redis: false, migrations: true } },
            },
          },
        },
      },
    },
    '/metrics': {
      get: {
        ...admin,
        summary: 'Prometheus metrics',
        responses: {
          200: { description: 'Prometheus text format' },
          ...adminGuard,
        },
      },
    },
    '/admin/queues': {
      get: {
        ...admin,
        summary: 'The queue dashboard (Bull Board), for a browser: it shows jobs and retries failed ones, and changes nothing else',
        responses: { 200: { description: 'HTML' }, ...adminGuard },
      },
    },
    '/admin/feed': {
      get: {
        ...admin,
        summary:
          'The feed statistics as a page, for a browser: impressions, engagement, rate by position and coverage, drawn over a range of days',
        responses: { 200: { description: 'HTML' }, ...adminGuard },
      },
    },
    '/admin/feed/stats': {
      get: {
        ...admin,
        summary:
          'Per UTC day and variant: feed impressions (distinct ranking and event pairs served) and the interactions attributed to them, by action and by position 1 to 20',
        parameters: [
          {
            name: 'from',
            in: 'query',
            required: true,
            description: 'First UTC day, YYYY-MM-DD',
            schema: { type: 'string', format: 'date' },
          },
          {
            name: 'to',
            in: 'query',
            required: true,
            description: 'Last UTC day, YYYY-MM-DD (from and to both included: at most 366 days)',
            schema: { type: 'string', format: 'date' },
          },
        ],
        responses: {
          200: anyObject,
          400: error('A missing or malformed day, or a range the wrong way round'),
          ...adminGuard,
          503: common[503],
        },
      },
    },
    '/openapi.json': { get: { ...open, summary: 'This document', responses: { 200: anyObject } } },
    '/docs': { get: { ...open, summary: 'This document, readable', responses: { 200: { description: 'HTML' } } } },
  }),
} as const;

/** A parameter's description sits beside its schema in OpenAPI. */
function splitDescription(schema: object): { description?: string; schema: object } {
  const { description, ...rest } = schema as { description?: string };
  return { description, schema: rest };
}

function withoutMetaKeys(schema: object): object {
  const { $id: _, $schema: __, ...rest } = schema as Record<string, unknown>;
  return rest;
}

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Interaction tracking API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

/** /openapi.json and a readable page at /docs, served from the installed swagger-ui (no CDN). */
export function docsRouter(): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('js').send("window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#docs' });");
  });
  router.use('/docs/assets', express.static(path.dirname(require.resolve('swagger-ui-dist/package.json')), { index: false }));
  return router;
}
