// Runs appsscript/Code.gs under Node with recording stand-ins for the Apps Script services.
// stdin: {"code": path, "base": url, "cases": [{"fn", "event", "status", "response"}]}
// stdout: [{"result", "fetches", "error"}] with every CardService call recorded.
'use strict';
const fs = require('fs');
const vm = require('vm');

const input = JSON.parse(fs.readFileSync(0, 'utf8'));

function plain(value) {
  if (value && value.__recorder) return value.__snapshot();
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

function recorder(type) {
  const calls = [];
  const snapshot = () => ({type, calls: calls.map(([name, args]) => [name, args.map(plain)])});
  const proxy = new Proxy({}, {
    get(_, prop) {
      if (prop === '__recorder') return true;
      if (prop === '__snapshot') return snapshot;
      if (prop === 'build') return () => snapshot();
      return (...args) => {
        calls.push([String(prop), args]);
        return proxy;
      };
    },
  });
  return proxy;
}

const enumOf = (name) => new Proxy({}, {get: (_, p) => `${name}.${String(p)}`});
const CardService = new Proxy({}, {
  get(_, prop) {
    const name = String(prop);
    return name.startsWith('new') ? () => recorder(name.slice(3)) : enumOf(name);
  },
});

let current = null;
const fetches = [];
const context = {
  CardService,
  console: {warn: () => {}, log: () => {}},
  PropertiesService: {
    getScriptProperties: () => ({getProperty: (k) => (k === 'PUBLIC_BASE_URL' ? input.base : null)}),
  },
  ScriptApp: {
    AuthMode: {FULL: 'FULL'},
    getIdentityToken: () => 'ID_TOKEN',
    getOAuthToken: () => 'OAUTH_TOKEN',
    requireScopes: (mode, scopes) => {
      const error = new Error('Authorization required');
      error.requiredScopes = scopes;
      throw error;
    },
  },
  UrlFetchApp: {
    fetch: (url, options) => {
      fetches.push({url, options: {...options, payload: JSON.parse(options.payload)}});
      return {
        getResponseCode: () => current.status || 200,
        getContentText: () => JSON.stringify(current.response),
      };
    },
  },
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(input.code, 'utf8'), context, {filename: 'Code.gs'});

const out = input.cases.map((c) => {
  current = c;
  fetches.length = 0;
  try {
    const result = context[c.fn](JSON.parse(JSON.stringify(c.event)));
    return {result: plain(result), fetches: fetches.slice(), error: null};
  } catch (error) {
    return {result: null, fetches: fetches.slice(), error: String(error.message), scopes: error.requiredScopes || null};
  }
});
process.stdout.write(JSON.stringify(out));
