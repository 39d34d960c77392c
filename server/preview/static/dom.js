// DOM helpers for the preview: element building, line icons, and the card text sanitiser.

// ------------------------------------------------------------------ DOM helpers

export const $ = (id) => document.getElementById(id);
const SVG_NS = 'http://www.w3.org/2000/svg';

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ------------------------------------------------------------------ icons

// Small line icons drawn here (no icon font, no network). Keys are the card schema's
// knownIcon values; Material Symbols names map onto them.
const ICON_PATHS = {
  PERSON: ['M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M4 20c0-4 3.6-6 8-6s8 2 8 6'],
  MULTIPLE_PEOPLE: ['M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z', 'M2 20c0-3.5 3-5.5 7-5.5s7 2 7 5.5',
    'M16 4.5a3.5 3.5 0 0 1 0 6.5', 'M18 14.8c2.4.6 4 2.3 4 5.2'],
  MEMBERSHIP: ['M3 5h18v14H3z', 'M9 12.5a2 2 0 1 0 0-4 2 2 0 0 0 0 4z', 'M6 16c.4-1.6 1.6-2.5 3-2.5s2.6.9 3 2.5',
    'M14.5 10h4', 'M14.5 14h4'],
  EMAIL: ['M3 5h18v14H3z', 'M3 7l9 6 9-6'],
  CLOCK: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M12 7v5l3.5 2'],
  INVITE: ['M3 6h18v15H3z', 'M3 10.5h18', 'M8 3v5', 'M16 3v5'],
  DESCRIPTION: ['M6 3h8l4 4v14H6z', 'M14 3v4h4', 'M9 12h6', 'M9 16h6'],
  VIDEO_CAMERA: ['M3 7h12v10H3z', 'M15 11l6-3.5v9L15 13z'],
  STORE: ['M4 10v10h16V10', 'M3 10l2-6h14l2 6z', 'M10 20v-5h4v5'],
  PHONE: ['M7 3h10v18H7z', 'M11 18h2'],
  STAR: ['M12 3l2.8 5.9 6.2.7-4.6 4.3 1.2 6.3L12 17l-5.6 3.2 1.2-6.3L3 9.6l6.2-.7z'],
  DOLLAR: ['M12 3v18', 'M16 7.5c-1-1-2.4-1.5-4-1.5-2.2 0-4 1.1-4 3s1.8 2.4 4 3 4 1.1 4 3-1.8 3-4 3c-1.6 0-3-.5-4-1.5'],
  BOOKMARK: ['M6 3h12v18l-6-4-6 4z'],
  MAP_PIN: ['M12 21s-7-6-7-11a7 7 0 0 1 14 0c0 5-7 11-7 11z', 'M12 12.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z'],
  ADD: ['M12 5v14', 'M5 12h14'],
  BACK: ['M19 12H5', 'M11 5l-7 7 7 7'],
  MORE: ['M12 5.5v.01', 'M12 12v.01', 'M12 18.5v.01'],
  HOME: ['M4 11l8-7 8 7', 'M6 9.5V20h12V9.5'],
  REFRESH: ['M20 12a8 8 0 1 1-2.3-5.7', 'M20 4v5h-5'],
  DOT: ['M12 14a2 2 0 1 0 0-4 2 2 0 0 0 0 4z'],
};
ICON_PATHS.VIDEO_PLAY = ICON_PATHS.VIDEO_CAMERA;
ICON_PATHS.EVENT_PERFORMER = ICON_PATHS.PERSON;
const MATERIAL = {
  person: 'PERSON', account_circle: 'PERSON', group: 'MULTIPLE_PEOPLE', groups: 'MULTIPLE_PEOPLE',
  badge: 'MEMBERSHIP', card_membership: 'MEMBERSHIP', mail: 'EMAIL', email: 'EMAIL',
  schedule: 'CLOCK', access_time: 'CLOCK', event: 'INVITE', calendar_today: 'INVITE',
  description: 'DESCRIPTION', notes: 'DESCRIPTION', sticky_note_2: 'DESCRIPTION',
  videocam: 'VIDEO_CAMERA', video_call: 'VIDEO_CAMERA', store: 'STORE', business: 'STORE',
  domain: 'STORE', phone: 'PHONE', call: 'PHONE', star: 'STAR', place: 'MAP_PIN',
  location_on: 'MAP_PIN', bookmark: 'BOOKMARK', attach_money: 'DOLLAR', add: 'ADD',
  person_add: 'ADD', refresh: 'REFRESH', home: 'HOME', arrow_back: 'BACK', more_vert: 'MORE',
};

export function svgIcon(name, label) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else svg.setAttribute('aria-hidden', 'true');
  for (const d of ICON_PATHS[name] || ICON_PATHS.DOT) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

export function cardIcon(icon) {
  if (!icon) return null;
  const label = icon.altText || '';
  if (icon.knownIcon) return svgIcon(icon.knownIcon, label);
  if (icon.materialIcon) {
    return svgIcon(MATERIAL[(icon.materialIcon.name || '').toLowerCase()] || 'DOT', label);
  }
  if (icon.iconUrl) return el('img', { class: 'icon', src: safeUrl(icon.iconUrl), alt: label });
  return null;
}

// ------------------------------------------------------------------ text formatting

// The HTML subset add-on cards allow: bold, italic, underline, strike, font colour, links,
// line breaks. Everything else is dropped, keeping its text.
const KEEP = new Set(['B', 'STRONG', 'I', 'EM', 'U', 'S', 'STRIKE', 'DEL', 'BR', 'A', 'FONT']);
const DROP = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'IFRAME', 'OBJECT', 'NOSCRIPT', 'TITLE']);
const COLOR = /^(#[0-9a-f]{3,8}|[a-z]{3,20})$/i;

export function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return ['http:', 'https:', 'mailto:'].includes(parsed.protocol) ? parsed.href : null;
  } catch (err) {
    return null;
  }
}

function copySafe(from, into) {
  for (const node of Array.from(from.childNodes)) {
    if (node.nodeType === Node.TEXT_NODE) {
      into.append(document.createTextNode(node.data));
    } else if (node.nodeType === Node.ELEMENT_NODE && !DROP.has(node.tagName)) {
      if (!KEEP.has(node.tagName)) {
        copySafe(node, into);
        continue;
      }
      let out;
      if (node.tagName === 'A') {
        const href = safeUrl(node.getAttribute('href') || '');
        out = href ? el('a', { href, target: '_blank', rel: 'noopener noreferrer' }) : el('span');
      } else if (node.tagName === 'FONT') {
        out = el('span');
        const color = node.getAttribute('color') || '';
        if (COLOR.test(color)) out.style.color = color;
      } else out = document.createElement(node.tagName.toLowerCase());
      copySafe(node, out);
      into.append(out);
    }
  }
  return into;
}

export function formatted(html, cls) {
  const doc = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  return copySafe(doc.body, el('div', { class: cls || 'formatted' }));
}
