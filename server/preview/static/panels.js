// The host side of the preview: the Calendar day or the Gmail inbox to open things from, and
// the contact timeline read through the REST API (so the rep sees notes land).
import { $, el } from './dom.js';

// The page's state and calls, given by the page at start (configure).
const deps = { state: null, getJson: null, runTrigger: null };

export function configure(given) {
  Object.assign(deps, given);
}

export function fmtTime(iso, allDay) {
  if (allDay) return 'All day';
  return new Intl.DateTimeFormat(deps.state.locale, { hour: 'numeric', minute: '2-digit', timeZone: deps.state.tz }).format(new Date(iso));
}

export function fmtDateTime(iso) {
  return new Intl.DateTimeFormat(deps.state.locale, { weekday: 'short', day: 'numeric', month: 'short', hour: 'numeric', minute: '2-digit', timeZone: deps.state.tz }).format(new Date(iso));
}

function badge(text) {
  return el('span', { class: 'badge', text });
}

export async function loadHostView() {
  const actions = $('host-actions');
  const list = $('host-list');
  const user = encodeURIComponent(deps.state.user);
  if (deps.state.host === 'CALENDAR') {
    const today = new Intl.DateTimeFormat(deps.state.locale, { weekday: 'long', day: 'numeric', month: 'long', timeZone: deps.state.tz }).format(new Date());
    $('host-title').textContent = `Calendar · ${today}`;
    actions.replaceChildren(
      el('button', { type: 'button', class: 'link-button', onclick: () => openUnsaved() }, '+ New event (unsaved)'));
    const data = await deps.getJson(`api/calendar?user=${user}&timeZone=${encodeURIComponent(deps.state.tz)}`).catch((err) => ({ error: err }));
    if (data.error) {
      list.replaceChildren(el('p', { class: 'muted', text: `Calendar not available: ${data.error.message}` }));
      return;
    }
    if (!data.results.length) {
      list.replaceChildren(el('p', { class: 'muted', text: 'No events today.' }));
      return;
    }
    list.replaceChildren(...data.results.map((ev) => {
      const item = el('button', { type: 'button', class: 'host-item event', 'data-event-id': ev.id, 'aria-pressed': String(deps.state.selected === ev.id) },
        el('span', { class: 'when', text: `${fmtTime(ev.start, ev.allDay)} – ${fmtTime(ev.end, ev.allDay)}` }),
        el('span', { class: 'what', text: ev.summary }),
        el('span', { class: 'badges' },
          ev.recurring ? badge('Recurring') : null,
          ev.video ? badge('Video') : null,
          ev.attendees ? badge(`${ev.attendees} guests`) : badge('No guests'),
          ev.organizer && ev.organizer.toLowerCase() !== deps.state.user ? badge(`from ${ev.organizer}`) : null));
      item.addEventListener('click', () => {
        deps.state.selected = ev.id;
        markSelected();
        deps.runTrigger(deps.state.ctx.triggers.calendarEvent, { calendar: { calendarId: ev.calendarId, eventId: ev.id } });
      });
      return item;
    }));
  } else {
    $('host-title').textContent = 'Gmail · Inbox';
    actions.replaceChildren();
    const data = await deps.getJson(`api/gmail?user=${user}`).catch((err) => ({ error: err }));
    if (data.error || !data.results.length) {
      list.replaceChildren(el('p', { class: 'muted', text: data.error ? `Inbox not available: ${data.error.message}` : 'No messages.' }));
      return;
    }
    list.replaceChildren(...data.results.map((m) => {
      const item = el('button', { type: 'button', class: 'host-item message', 'data-message-id': m.messageId, 'aria-pressed': String(deps.state.selected === m.messageId) },
        el('span', { class: 'from', text: m.fromName || m.from }),
        el('span', { class: 'what' }, el('b', { text: m.subject }), el('span', { class: 'muted', text: ` — ${m.snippet}` })),
        el('span', { class: 'when', text: fmtTime(m.receivedAt) }));
      item.addEventListener('click', () => {
        deps.state.selected = m.messageId;
        markSelected();
        deps.runTrigger(deps.state.ctx.triggers.gmailMessage, { gmail: { messageId: m.messageId, threadId: m.threadId } });
      });
      return item;
    }));
  }
}

export function markSelected() {
  document.querySelectorAll('.host-item').forEach((n) => {
    const id = n.dataset.eventId || n.dataset.messageId;
    n.setAttribute('aria-pressed', String(id === deps.state.selected));
  });
}

function openUnsaved() {
  deps.state.selected = null;
  markSelected();
  deps.runTrigger(deps.state.ctx.triggers.calendarEvent, { calendar: { calendarId: deps.state.user } });
}


// ------------------------------------------------------------------ timeline panel

function apiHeaders() {
  return { Authorization: `Bearer ${deps.state.ctx.apiToken}` };
}

export async function loadContacts() {
  if (!deps.state.ctx.apiToken) return;
  const select = $('contact');
  const data = await deps.getJson(`${deps.state.ctx.apiBase}/contacts?limit=100`, apiHeaders()).catch(() => null);
  if (!data) return;
  const contacts = data.results;
  if (deps.state.contactEmail) {
    const match = contacts.find((c) => c.email.toLowerCase() === deps.state.contactEmail);
    if (match) deps.state.contactId = match.id;
    deps.state.contactEmail = null;
  }
  if (!contacts.some((c) => c.id === deps.state.contactId)) deps.state.contactId = contacts.length ? contacts[0].id : null;
  select.replaceChildren(...contacts.map((c) => {
    const name = [c.first_name, c.last_name].filter(Boolean).join(' ');
    return el('option', { value: String(c.id), selected: c.id === deps.state.contactId, text: name ? `${name} <${c.email}>` : c.email });
  }));
  await loadTimeline();
}

export async function loadTimeline() {
  const list = $('timeline');
  if (!deps.state.ctx.apiToken) {
    list.replaceChildren(el('li', { class: 'muted', text: 'No API token: the timeline panel is off.' }));
    return;
  }
  if (!deps.state.contactId) {
    list.replaceChildren(el('li', { class: 'muted', text: 'No contacts yet.' }));
    return;
  }
  const data = await deps.getJson(`${deps.state.ctx.apiBase}/contacts/${deps.state.contactId}/timeline?limit=50`, apiHeaders()).catch((err) => ({ error: err }));
  if (data.error) {
    list.replaceChildren(el('li', { class: 'muted', text: `Timeline not available: ${data.error.message}` }));
    return;
  }
  if (!data.results.length) {
    list.replaceChildren(el('li', { class: 'muted', text: 'Nothing on this timeline yet.' }));
    return;
  }
  list.replaceChildren(...data.results.map((item) => {
    const meeting = item.meeting;
    const lines = [];
    if (meeting) {
      if (meeting.start) lines.push(el('div', { class: 'muted', text: `${fmtDateTime(meeting.start)} – ${fmtTime(meeting.end)} · ${meeting.attendees.length} attendees · ${meeting.source}` }));
      if (meeting.started_at) lines.push(el('div', { class: 'muted', text: `Started ${fmtTime(meeting.started_at)}` }));
      if (meeting.notes.length) lines.push(el('div', { class: 'muted', text: `${meeting.notes.length} note${meeting.notes.length === 1 ? '' : 's'}` }));
    } else if (item.body) {
      lines.push(el('div', { class: 'note-body', text: item.body }));
    }
    return el('li', { class: `tl-item tl-${item.type}` },
      el('div', { class: 'tl-head' },
        el('span', { class: 'tl-type', text: item.type }),
        el('span', { class: 'tl-title', text: item.type === 'note' ? (item.author_email || 'note') : item.title || '(no title)' }),
        el('time', { datetime: item.occurred_at, text: fmtDateTime(item.occurred_at) })),
      lines);
  }));
}

export function followContact(parameters, url) {
  // The panel follows the contact the rep just opened or added.
  if (parameters.contact_id && /^\d+$/.test(parameters.contact_id)) deps.state.contactId = Number(parameters.contact_id);
  else if (parameters.email && /add-(email-)?contact/.test(url)) deps.state.contactEmail = parameters.email.toLowerCase();
  loadContacts();
}
