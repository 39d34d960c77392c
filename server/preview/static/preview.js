// Meeting Assistant local preview: a stand-in for the Gmail / Calendar sidebar host.
//
// Renders google.apps.card.v1 JSON (the add-on's answers) and sends every action back through
// POST /preview/api/invoke, where the server builds the event object and signs the request
// as Google's host does. Card reference:
// https://developers.google.com/workspace/add-ons/reference/rpc/google.apps.card.v1
// Navigation: https://developers.google.com/workspace/add-ons/how-tos/navigation

import * as cards from './cards.js';
import { $, el, safeUrl, svgIcon } from './dom.js';
import * as panels from './panels.js';

// ------------------------------------------------------------------ state

const S = {
  ctx: null,
  host: 'CALENDAR',
  user: '',
  tz: '',
  locale: 'en-US',
  granted: new Set(),
  stack: [], // [{card, source, values}]
  context: {}, // the open event or message: {calendar: {...}} | {gmail: {...}} | {}
  selected: null,
  busy: 0,
  contactId: null,
  contactEmail: null,
  overlay: null,
};

const top = () => S.stack[S.stack.length - 1];

// ------------------------------------------------------------------ server calls

async function getJson(url, headers) {
  const response = await fetch(url, { headers: headers || {} });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body.error && body.error.message) || response.statusText;
    throw new Error(`${response.status} ${message}`);
  }
  return body;
}

class AddonError extends Error {
  constructor(status, body) {
    const detail = body && body.error ? body.error.message : typeof body === 'string' ? body : '';
    super(`The add-on answered ${status}${detail ? `: ${detail}` : ''}`);
    this.status = status;
  }
}

async function invoke(url, source) {
  const payload = {
    url,
    host: S.host,
    user: S.user,
    timeZone: S.tz,
    locale: S.locale,
    scopes: Array.from(S.granted),
    formInputs: source.formInputs || {},
    parameters: source.parameters || {},
    calendar: (source.context && source.context.calendar) || null,
    gmail: (source.context && source.context.gmail) || null,
  };
  const response = await fetch('api/invoke', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(payload),
  });
  const result = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (result.error && result.error.message) || response.statusText;
    throw new Error(`Preview host: ${message}`);
  }
  logRequest(url, result);
  if (result.status !== 200) throw new AddonError(result.status, result.body);
  return result.body;
}

async function busy(work, showSpinner) {
  S.busy += 1;
  if (showSpinner !== false) $('progress').hidden = false;
  document.body.classList.add('busy');
  try {
    return await work();
  } catch (err) {
    showError(err.message || String(err));
    return null;
  } finally {
    S.busy -= 1;
    if (!S.busy) {
      $('progress').hidden = true;
      document.body.classList.remove('busy');
    }
  }
}

// ------------------------------------------------------------------ responses and navigation

function cardsOf(response) {
  // Triggers answer {action}, callbacks {renderActions: {action}}; Google also accepts a bare card.
  if (response && (response.sections || response.header) && !response.action) {
    return { action: { navigations: [{ pushCard: response }] } };
  }
  return (response && (response.renderActions || response)) || {};
}

function handle(response, source, retry) {
  if (response && response.requesting_google_scopes) {
    askForScopes(response.requesting_google_scopes, retry);
    return;
  }
  const render = cardsOf(response);
  const action = render.action || {};
  if (source.trigger) S.stack = [];
  for (const nav of action.navigations || []) navigate(nav, source);
  render_();
  if (action.link) openLink(action.link);
  if (action.notification && action.notification.text) toast(action.notification.text);
  if (render.hostAppAction) toast(`Host action: ${Object.keys(render.hostAppAction).join(', ')}`);
}

function navigate(nav, source) {
  if (nav.pushCard) {
    S.stack.push({ card: nav.pushCard, source, values: {} });
  } else if (nav.updateCard) {
    const current = top();
    // updateCard keeps what the user typed into fields that are still there.
    const entry = { card: nav.updateCard, source: current ? current.source : source, values: current ? current.values : {} };
    if (current) S.stack[S.stack.length - 1] = entry;
    else S.stack.push(entry);
  } else if (nav.pop || nav.popCard) {
    if (S.stack.length > 1) S.stack.pop();
  } else if (nav.popToRoot) {
    S.stack.length = Math.min(S.stack.length, 1);
  } else if (nav.popToCard) {
    while (S.stack.length > 1 && top().card.name !== nav.popToCard) S.stack.pop();
  }
}

async function runTrigger(url, context) {
  S.context = context || {};
  const source = { trigger: true, url, context: S.context };
  const response = await busy(() => invoke(url, source));
  if (response) handle(response, source, () => runTrigger(url, context));
}

function collectInputs(entry) {
  const inputs = {};
  for (const [name, value] of Object.entries(entry.values)) {
    // Only the widgets of the card on screen; values typed into an earlier card stay behind.
    if (!entry.fields || !entry.fields[name]) continue;
    if (value && value.kind === 'dateTime') inputs[name] = { dateTimeInput: value.input };
    else if (value && value.kind === 'date') inputs[name] = { dateInput: value.input };
    else if (value && value.kind === 'time') inputs[name] = { timeInput: value.input };
    else if (Array.isArray(value) && value.some((v) => v !== '')) {
      inputs[name] = { stringInputs: { value: value.filter((v) => v !== '') } };
    }
  }
  return inputs;
}

function missingRequired(action, entry, inputs) {
  let names = action.requiredWidgets || [];
  if (action.allWidgetsAreRequired) names = Object.keys(entry.fields || {});
  return names.filter((name) => !inputs[name]);
}

async function runAction(action, opener) {
  const entry = top();
  if (!entry || !action || !action.function) return;
  const formInputs = collectInputs(entry);
  const missing = missingRequired(action, entry, formInputs);
  if (missing.length) {
    if (opener) opener.close();
    cards.markRequired(missing);
    toast('Fill in the required fields first.');
    return;
  }
  const parameters = {};
  for (const p of action.parameters || []) parameters[p.key] = p.value;
  const source = { trigger: false, url: action.function, context: S.context, parameters, formInputs };
  const response = await busy(() => invoke(action.function, source), action.loadIndicator !== 'NONE');
  if (!response) {
    if (opener) opener.close();
    return;
  }
  const render = cardsOf(response);
  if (opener) {
    const link = render.action && render.action.link;
    if (link && safeUrl(link.url)) {
      opener.location.href = safeUrl(link.url);
      delete render.action.link;
    } else opener.close();
  }
  handle(response, source, () => runAction(action));
  panels.followContact(parameters, action.function);
}

function onClick(spec) {
  if (!spec) return;
  if (spec.action) runAction(spec.action);
  else if (spec.openDynamicLinkAction) {
    // Open the tab inside the click so no popup blocker stops it; point it at the link
    // once the add-on has answered.
    const opener = window.open('about:blank', '_blank');
    if (opener) opener.opener = null;
    runAction(spec.openDynamicLinkAction, opener);
  } else if (spec.openLink) openLink(spec.openLink);
  else if (spec.card) {
    S.stack.push({ card: spec.card, source: top() ? top().source : {}, values: {} });
    render_();
  } else if (spec.overflowMenu) {
    cards.showMenu(spec.overflowMenu.items || [], null);
  }
}

// ------------------------------------------------------------------ links and overlays

function openLink(link) {
  const url = safeUrl(link.url || '');
  if (!url) {
    showError(`Not opened: ${link.url || '(no url)'} is not an http(s) link`);
    return;
  }
  if (link.openAs === 'OVERLAY' || link.onClose === 'RELOAD') {
    const win = window.open(url, 'meeting-assistant-overlay', 'popup,width=560,height=680');
    startOverlay(win, link.onClose === 'RELOAD');
  } else {
    window.open(url, '_blank', 'noopener');
  }
}

function startOverlay(win, reload) {
  stopOverlay();
  const done = el('button', { type: 'button', class: 'btn filled', text: 'Done' });
  const box = el('div', { class: 'veil-box', role: 'dialog', 'aria-label': 'Window open' },
    el('p', { text: 'Finish in the window that opened.' }),
    el('p', { class: 'muted', text: reload ? 'The card reloads when you close it.' : 'Close it when you are done.' }),
    done);
  const veil = $('veil');
  veil.replaceChildren(box);
  veil.hidden = false;
  const finish = () => {
    stopOverlay();
    if (reload) reloadCard();
  };
  done.addEventListener('click', () => {
    if (win && !win.closed) win.close();
    finish();
  });
  const timer = window.setInterval(() => {
    if (!win || win.closed) finish();
  }, 400);
  S.overlay = { timer };
}

function stopOverlay() {
  if (S.overlay) window.clearInterval(S.overlay.timer);
  S.overlay = null;
  $('veil').hidden = true;
  $('veil').replaceChildren();
}

async function reloadCard() {
  // RELOAD re-runs whatever produced the card on top: its trigger, or its action.
  const entry = top();
  if (!entry || !entry.source || !entry.source.url) return;
  const source = entry.source;
  if (source.trigger) {
    await runTrigger(source.url, source.context);
    return;
  }
  const response = await busy(() => invoke(source.url, source));
  if (!response) return;
  const nav = (cardsOf(response).action || {}).navigations || [];
  const next = nav.map((n) => n.pushCard || n.updateCard).find(Boolean);
  if (next) {
    S.stack[S.stack.length - 1] = { card: next, source, values: entry.values };
    render_();
  }
}

function rerunRoot() {
  // The rep's zone or locale changed: ask for the stack again, from its trigger.
  const root = S.stack[0];
  if (root && root.source && root.source.trigger) runTrigger(root.source.url, root.source.context);
}

function askForScopes(request, retry) {
  const wanted = request.all_scopes ? S.ctx.scopes : request.scopes || [];
  const allow = el('button', { type: 'button', class: 'btn filled', text: 'Allow' });
  const cancel = el('button', { type: 'button', class: 'btn', text: 'Cancel' });
  const box = el('div', { class: 'veil-box', role: 'dialog', 'aria-label': 'Grant access' },
    el('p', { text: 'Meeting Assistant wants additional access to your Google Account:' }),
    el('ul', { class: 'scope-ask' }, wanted.map((s) => el('li', { text: s.replace('https://www.googleapis.com/auth/', '') }))),
    el('div', { class: 'row' }, cancel, allow));
  $('veil').replaceChildren(box);
  $('veil').hidden = false;
  cancel.addEventListener('click', stopOverlay);
  allow.addEventListener('click', () => {
    wanted.forEach((s) => S.granted.add(s));
    renderScopes();
    stopOverlay();
    retry(); // Google re-runs the action that asked
  });
}

// ------------------------------------------------------------------ the sidebar

function render_() {
  const area = $('card-area');
  const entry = top();
  if (!entry) {
    area.replaceChildren(el('div', { class: 'empty', text: 'No card.' }));
    return;
  }
  area.replaceChildren(cards.renderCard(entry, S.stack.length));
  area.scrollTop = 0;
}

function goHome() {
  S.selected = null;
  panels.markSelected();
  return runTrigger(S.ctx.triggers.home, {});
}

// ------------------------------------------------------------------ toast, errors, log

let toastTimer = 0;
function toast(text) {
  const box = $('toast');
  box.textContent = text;
  box.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    box.hidden = true;
  }, 4500);
}

function showError(message) {
  const area = $('card-area');
  area.querySelectorAll('.error-banner').forEach((n) => n.remove());
  const close = el('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss', text: '×' });
  const banner = el('div', { class: 'error-banner', role: 'alert' }, el('span', { text: message }), close);
  close.addEventListener('click', () => banner.remove());
  area.prepend(banner);
}

function logRequest(url, result) {
  const path = new URL(url).pathname;
  const when = new Date().toLocaleTimeString(S.locale, { timeZone: S.tz, hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const item = el('li', { class: result.status === 200 ? 'ok' : 'failed' },
    el('details', {},
      el('summary', {}, el('code', { text: `POST ${path}` }), ` ${result.status} · ${result.elapsedMs} ms · ${when}`),
      el('div', { class: 'log-grid' },
        el('div', {}, el('h3', { text: 'Event object sent (tokens elided)' }), el('pre', { text: JSON.stringify(result.request.event, null, 2) })),
        el('div', {}, el('h3', { text: 'Add-on answer' }), el('pre', { text: JSON.stringify(result.body, null, 2) })))));
  const log = $('log');
  log.prepend(item);
  while (log.children.length > 25) log.lastChild.remove();
}

// ------------------------------------------------------------------ settings bar

function renderScopes() {
  const box = $('scopes');
  box.replaceChildren(...S.ctx.scopes.map((scope) => {
    const input = el('input', { type: 'checkbox', checked: S.granted.has(scope) });
    input.addEventListener('change', () => {
      if (input.checked) S.granted.add(scope);
      else S.granted.delete(scope);
    });
    return el('label', { class: 'choice' }, input, el('span', { text: scope.replace('https://www.googleapis.com/auth/', '') }));
  }));
}

function fillSelect(select, values, current) {
  select.replaceChildren(...values.map(([value, text]) => el('option', { value, selected: value === current, text })));
}

async function switchHost(host) {
  S.host = host;
  document.querySelectorAll('[data-host]').forEach((b) => b.setAttribute('aria-selected', String(b.dataset.host === host)));
  S.selected = null;
  await Promise.all([panels.loadHostView(), goHome()]);
}

async function init() {
  cards.configure({
    onClick,
    runAction,
    back: () => {
      S.stack.pop();
      render_();
    },
  });
  panels.configure({ state: S, getJson, runTrigger });
  $('addon-home').append(svgIcon('HOME'));
  try {
    S.ctx = await getJson('api/context');
  } catch (err) {
    showError(`The preview could not start: ${err.message}`);
    return;
  }
  S.user = S.ctx.users[0].email.toLowerCase();
  S.tz = S.ctx.timeZone;
  S.locale = S.ctx.locale;
  S.ctx.scopes.forEach((s) => S.granted.add(s));
  fillSelect($('user'), S.ctx.users.map((u) => [u.email.toLowerCase(), `${u.name} · ${u.email}`]), S.user);
  $('user').title = 'The Google user the host signs requests for';
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = Array.from(new Set([S.tz, browserZone, 'UTC', 'America/Los_Angeles', 'America/New_York', 'Europe/London', 'Europe/Berlin', 'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Sydney'].filter(Boolean)));
  fillSelect($('tz'), zones.map((z) => [z, z === S.ctx.timeZone ? `${z} (calendar)` : z]), S.tz);
  fillSelect($('locale'), Array.from(new Set([S.locale, 'en-US', 'en-GB', 'de-DE', 'fr-FR', 'ja-JP'])).map((l) => [l, l]), S.locale);
  renderScopes();
  $('user').addEventListener('change', (e) => {
    S.user = e.target.value;
    switchHost(S.host);
  });
  $('tz').addEventListener('change', (e) => {
    S.tz = e.target.value;
    panels.loadHostView();
    panels.loadTimeline();
    rerunRoot();
  });
  $('locale').addEventListener('change', (e) => {
    S.locale = e.target.value;
    panels.loadHostView();
    panels.loadTimeline();
    rerunRoot();
  });
  document.querySelectorAll('[data-host]').forEach((b) => b.addEventListener('click', () => switchHost(b.dataset.host)));
  $('addon-home').addEventListener('click', goHome);
  $('toast').addEventListener('click', () => {
    $('toast').hidden = true;
  });
  $('contact').addEventListener('change', (e) => {
    S.contactId = Number(e.target.value);
    panels.loadTimeline();
  });
  $('timeline-refresh').addEventListener('click', panels.loadContacts);
  await Promise.all([switchHost('CALENDAR'), panels.loadContacts()]);
  document.body.dataset.ready = 'true';
}

document.addEventListener('DOMContentLoaded', init);
