import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startStack, type Stack } from './helpers/stack';

const root = path.join(__dirname, '..');
const token = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, ['--require', 'tsx/cjs', 'scripts/token.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, NODE_ENV: 'development', ...env },
    encoding: 'utf8',
  });

describe('npm run token', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { ADMIN_USERNAME: 'ops', ADMIN_PASSWORD: 'token-script-password' } });
  });
  afterAll(() => stack.stop());

  test('prints a token the API accepts, for the user and roles asked', async () => {
    const printed = token(['--sub', 'alice', '--roles', 'admin'], { JWT_SECRET: stack.config.jwt.secret });
    expect(printed.status).toBe(0);
    const authorization = `Bearer ${printed.stdout.trim()}`;
    expect((await stack.request('GET', '/collections', { token: null, headers: { authorization } })).status).toBe(200);
    const day = new Date().toISOString().slice(0, 10);
    expect(
      (await stack.request('GET', `/admin/feed/stats?from=${day}&to=${day}`, { token: null, headers: { authorization } })).status,
    ).toBe(200);
  });

  test('without --sub it prints its usage and exits 2', () => {
    const printed = token([], {});
    expect(printed.status).toBe(2);
    expect(printed.stderr).toMatch(/usage: npm run token -- --sub USER/);
  });
});
