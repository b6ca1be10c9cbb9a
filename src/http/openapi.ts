import path from 'node:path';
import express, { Router } from 'express';
import { REASON_CODES } from '../feed/ranking';
import { ACTIONS } from '../domain/weights';

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const body = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const common = {
  401: error('No valid bearer token'),
  400: error('Invalid input'),
  503: error('PostgreSQL or Redis unavailable; see Retry-After'),
};
const write = { 429: error('Too many writes by this user (RATE_LIMIT_WRITES_PER_MINUTE); see Retry-After') };
const read = { 429: error('Too many reads by this user (RATE_LIMIT_READS_PER_MINUTE); see Retry-After') };
const pageParameters = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'nextCursor of the previous page' },
];
const page = (items: object) =>
  json({
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items }, nextCursor: { type: ['string', 'null'] } },
  });
const withBody = { 413: error('Body too large'), 415: error('Not JSON'), ...write };
const open = { security: [] };
const admin = { security: [{ basicAuth: [] }, { bearerAuth: [] }] };

/** The API, described for clients; a test checks it against the routes the app really serves. */
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
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
        },
      },
      Action: { type: 'string', enum: [...ACTIONS] },
      Event: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          title: { type: 'string' },
          startsAt: { type: 'string', format: 'date-time' },
          kind: { type: 'string', enum: ['event', 'gig'] },
          category: { type: ['string', 'null'] },
          tags: { type: 'array', items: { type: 'string' } },
          city: { type: ['string', 'null'] },
          ticketUrl: { type: ['string', 'null'], format: 'uri' },
          organizerId: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      Collection: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          name: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          eventCount: { type: 'integer', description: 'How many events the collection holds' },
          eventIds: {
            type: 'array',
            maxItems: 100,
            items: { type: 'string', format: 'uuid' },
            description: 'The 100 latest events, in the order they were added; GET /collections/{id}/events pages them all',
          },
        },
      },
      GigApplication: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          eventId: { type: 'string', format: 'uuid' },
          status: { type: 'string', enum: ['submitted', 'accepted', 'rejected', 'withdrawn'] },
          message: { type: ['string', 'null'] },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      Reason: {
        type: 'object',
        required: ['code', 'text'],
        properties: {
          code: { type: 'string', enum: [...REASON_CODES] },
          text: { type: 'string' },
          feature: { type: 'object', properties: { type: { type: 'string' }, value: { type: 'string' } } },
        },
      },
    },
  },
  paths: {
    '/interactions': {
      post: {
        summary: 'Record an interaction of the caller with an event',
        description:
          'Answers 202 once the interaction is stored in the queue; a worker writes it. Send Idempotency-Key to make retries safe.',
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 } }],
        requestBody: body({
          type: 'object',
          required: ['eventId', 'action'],
          properties: { eventId: { type: 'string' }, action: ref('Action') },
        }),
        responses: {
          202: json(
            {
              type: 'object',
              properties: {
                id: { type: 'string', format: 'uuid' },
                eventId: { type: 'string' },
                action: ref('Action'),
                status: { const: 'queued' },
              },
            },
            'Queued',
          ),
          ...common,
          ...withBody,
          404: error('No such event (event_not_found)'),
        },
      },
    },
    '/events': {
      post: {
        summary: 'Create an event (roles organizer or admin)',
        requestBody: body({
          type: 'object',
          required: ['title', 'startsAt', 'kind'],
          properties: {
            title: { type: 'string', maxLength: 200 },
            startsAt: { type: 'string', format: 'date-time' },
            kind: { type: 'string', enum: ['event', 'gig'] },
            category: { type: 'string' },
            tags: { type: 'array', items: { type: 'string' }, maxItems: 20 },
            city: { type: 'string' },
            ticketUrl: { type: 'string', format: 'uri' },
          },
        }),
        responses: { 201: json(ref('Event'), 'Created'), ...common, ...withBody, 403: error('Not an organizer or admin') },
      },
    },
    '/events/{id}': {
      get: {
        summary: 'Read an event',
        parameters: [pathParam('id', 'Event id')],
        responses: { 200: json(ref('Event')), 401: common[401], 404: error('No such event'), ...read },
      },
    },
    '/recommendations': {
      get: {
        summary: "The caller's personalised feed of upcoming events",
        parameters: pageParameters,
        responses: {
          200: json({
            type: 'object',
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    eventId: { type: 'string' },
                    score: { type: 'number' },
                    reasons: { type: 'array', items: ref('Reason') },
                    event: ref('Event'),
                  },
                },
              },
              nextCursor: { type: ['string', 'null'] },
            },
          }),
          ...common,
          ...read,
        },
      },
    },
    '/collections': {
      post: {
        summary: 'Create a collection',
        requestBody: body({ type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 100 } } }),
        responses: {
          201: json(
            {
              type: 'object',
              properties: {
                id: { type: 'string', format: 'uuid' },
                name: { type: 'string' },
                createdAt: { type: 'string', format: 'date-time' },
              },
            },
            'Created',
          ),
          ...common,
          ...withBody,
          409: error('The caller keeps as many collections as they may (limit_reached)'),
        },
      },
      get: {
        summary: "The caller's collections, oldest first, a page at a time",
        parameters: pageParameters,
        responses: { 200: page(ref('Collection')), 400: common[400], 401: common[401], ...read },
      },
    },
    '/collections/{id}': {
      get: {
        summary: 'One of the caller’s collections',
        parameters: [pathParam('id', 'Collection id')],
        responses: { 200: json(ref('Collection')), 401: common[401], 404: error('No such collection of the caller'), ...read },
      },
    },
    '/collections/{id}/events': {
      get: {
        summary: 'The events of one of the caller’s collections, newest first, a page at a time',
        parameters: [pathParam('id', 'Collection id'), ...pageParameters],
        responses: {
          200: page({
            type: 'object',
            properties: { eventId: { type: 'string', format: 'uuid' }, addedAt: { type: 'string', format: 'date-time' } },
          }),
          400: common[400],
          401: common[401],
          404: error('No such collection of the caller'),
          ...read,
        },
      },
      post: {
        summary: 'Add an event to a collection (records a SAVE)',
        parameters: [pathParam('id', 'Collection id')],
        requestBody: body({ type: 'object', required: ['eventId'], properties: { eventId: { type: 'string' } } }),
        responses: {
          201: json(
            { type: 'object', properties: { collectionId: { type: 'string' }, eventId: { type: 'string' }, addedAt: { type: 'string' } } },
            'Added',
          ),
          ...common,
          ...withBody,
          404: error('No such event, or no such collection of the caller'),
          409: error('Already in the collection (already_in_collection), or the caller keeps as many events as they may (limit_reached)'),
        },
      },
    },
    '/collections/{id}/events/{eventId}': {
      delete: {
        summary: 'Remove an event from a collection (the SAVE stays)',
        parameters: [pathParam('id', 'Collection id'), pathParam('eventId', 'Event id')],
        responses: { 204: { description: 'Removed' }, 401: common[401], 404: error('No such collection of the caller'), ...write },
      },
    },
    '/gigs/{eventId}/applications': {
      post: {
        summary: 'Apply to a gig (records an APPLY)',
        parameters: [pathParam('eventId', 'Gig id')],
        requestBody: {
          required: false,
          content: {
            'application/json': {
              schema: { type: 'object', properties: { message: { type: ['string', 'null'], minLength: 1, maxLength: 2000 } } },
            },
          },
        },
        responses: {
          201: json(ref('GigApplication'), 'Applied'),
          ...common,
          ...withBody,
          404: error('No such gig'),
          409: error('Already applied'),
        },
      },
    },
    '/gigs/{eventId}/applications/me': {
      get: {
        summary: "The caller's application to a gig",
        parameters: [pathParam('eventId', 'Gig id')],
        responses: { 200: json(ref('GigApplication')), 401: common[401], 404: error('No application'), ...read },
      },
    },
    '/healthz': { get: { ...open, summary: 'The process is alive', responses: { 200: json({ type: 'object' }) } } },
    '/readyz': {
      get: {
        ...open,
        summary: 'PostgreSQL and Redis answer',
        responses: { 200: json({ type: 'object' }), 503: json({ type: 'object' }, 'Not ready') },
      },
    },
    '/metrics': {
      get: {
        ...admin,
        summary: 'Prometheus metrics',
        responses: { 200: { description: 'Prometheus text format' }, 401: error('No credentials') },
      },
    },
    '/admin/queues': {
      get: {
        ...admin,
        summary: 'The queue dashboard (Bull Board), for a browser: it shows jobs and retries failed ones, and changes nothing else',
        responses: { 200: { description: 'HTML' }, 401: error('No credentials'), 403: error('Not an admin') },
      },
    },
    '/openapi.json': { get: { ...open, summary: 'This document', responses: { 200: json({ type: 'object' }) } } },
    '/docs': { get: { ...open, summary: 'This document, readable', responses: { 200: { description: 'HTML' } } } },
  },
} as const;

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
