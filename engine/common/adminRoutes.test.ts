import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ADMIN_ROUTES, adminPath, pathParams } from './adminRoutes.js';

test('adminPath encodes path params, skips unset and empty query values, and refuses a missing param', () => {
  assert.equal(adminPath('deleteModel', { name: 'my model/x' }, { dtype: 'int4' }), '/api/library/my%20model%2Fx?dtype=int4');
  assert.equal(adminPath('deleteModel', { name: 'tiny' }, { dtype: undefined }), '/api/library/tiny');
  assert.equal(adminPath('requests', {}, { status: '4xx', text: '', model: undefined, limit: 10 }), '/api/requests?status=4xx&limit=10');
  assert.equal(adminPath('status', {}), '/api/status');
  assert.throws(() => adminPath('request', { id: '' }), /needs its 'id' parameter/);
});

test('every route is one method + path, and its params are named once', () => {
  const keys = Object.values(ADMIN_ROUTES).map((route) => `${route.method} ${route.path}`);
  assert.equal(new Set(keys).size, keys.length, 'a method + path appears twice');
  for (const route of Object.values(ADMIN_ROUTES)) {
    assert.match(route.path, /^\/api\//);
    const params = pathParams(route.path);
    assert.equal(new Set(params).size, params.length);
    assert.ok(route.answer === 'json' || route.status === 200, `${route.path}: a raw route writes its own status`);
  }
});

test("the host's README lists exactly the route table", () => {
  const readme = readFileSync(new URL('../host/README.md', import.meta.url), 'utf8');
  const block = /<!-- admin-routes:begin -->\n([\s\S]*?)<!-- admin-routes:end -->/.exec(readme);
  assert.ok(block, 'engine/host/README.md has the admin-routes block');
  const expected = ['| route | what |', '| --- | --- |', ...Object.values(ADMIN_ROUTES).map((route) => `| \`${route.method} ${route.path}\` | ${route.doc} |`)].join('\n') + '\n';
  assert.equal(block[1], expected, 'replace the README block with the rows generated from ADMIN_ROUTES (method, path, doc)');
});
