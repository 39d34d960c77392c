// Renders google.apps.card.v1 JSON (camelCase, as the add-on answers) into the sidebar.
// https://developers.google.com/workspace/add-ons/reference/rpc/google.apps.card.v1
// Clicks go back to the page through the hooks given to configure().
import { $, cardIcon, el, formatted, safeUrl, svgIcon } from './dom.js';

const hooks = {
  onClick: () => {},
  runAction: () => {},
  back: () => {},
};
// Which collapsible sections the rep opened, by card name and section index.
const expanded = {};

export function configure(given) {
  Object.assign(hooks, given);
}

export function renderCard(entry, depth) {
  const card = entry.card;
  entry.fields = {};
  const root = el('article', { class: 'card', 'data-card': card.name || '' });
  const header = card.header || {};
  const head = el('header', { class: 'card-header' });
  if (depth > 1) {
    head.append(el('button', { type: 'button', class: 'icon-button back', 'aria-label': 'Back', title: 'Back', onclick: () => hooks.back() }, svgIcon('BACK')));
  }
  if (header.imageUrl && safeUrl(header.imageUrl)) {
    head.append(el('img', { class: `header-image ${header.imageType === 'CIRCLE' ? 'circle' : ''}`, src: safeUrl(header.imageUrl), alt: header.imageAltText || '' }));
  }
  head.append(el('div', { class: 'titles' },
    el('h1', { class: 'card-title', text: header.title || '' }),
    header.subtitle ? el('p', { class: 'card-subtitle', text: header.subtitle }) : null));
  if ((card.cardActions || []).length) {
    const more = el('button', { type: 'button', class: 'icon-button', 'aria-label': 'More actions', title: 'More actions' }, svgIcon('MORE'));
    more.addEventListener('click', () => showMenu(card.cardActions.map((a) => ({ text: a.actionLabel, onClick: a.onClick })), more));
    head.append(more);
  }
  root.append(head);
  const body = el('div', { class: `card-body ${card.sectionDividerStyle === 'NO_DIVIDER' ? 'no-dividers' : ''}` });
  (card.sections || []).forEach((section, index) => body.append(renderSection(section, entry, index)));
  root.append(body);
  if (card.fixedFooter) {
    const footer = el('footer', { class: 'card-footer' });
    if (card.fixedFooter.secondaryButton) footer.append(renderButton(card.fixedFooter.secondaryButton, 'secondary'));
    if (card.fixedFooter.primaryButton) footer.append(renderButton(card.fixedFooter.primaryButton, 'primary'));
    root.append(footer);
  }
  return root;
}

function renderSection(section, entry, index) {
  const box = el('section', { class: 'card-section' });
  if (section.header) box.append(formatted(section.header, 'section-header'));
  const widgets = (section.widgets || []).map((w) => renderWidget(w, entry)).filter(Boolean);
  const keep = section.collapsible ? section.uncollapsibleWidgetsCount || 0 : widgets.length;
  widgets.forEach((node, i) => {
    if (i >= keep) node.classList.add('collapsed-widget');
    box.append(node);
  });
  if (section.collapsible && widgets.length > keep) {
    const key = `${entry.card.name || ''}#${index}`;
    const toggle = el('button', { type: 'button', class: 'collapse-toggle' });
    const apply = (open) => {
      box.classList.toggle('expanded', open);
      toggle.textContent = open ? 'Show less' : `Show more (${widgets.length - keep})`;
      toggle.setAttribute('aria-expanded', String(open));
      expanded[key] = open;
    };
    toggle.addEventListener('click', () => apply(!box.classList.contains('expanded')));
    apply(Boolean(expanded[key]));
    box.append(toggle);
  }
  return box;
}

function renderWidget(widget, entry) {
  const align = widget.horizontalAlignment ? ` align-${widget.horizontalAlignment.toLowerCase()}` : '';
  const wrap = (node) => {
    node.classList.add('widget');
    if (align) node.classList.add(align.trim());
    return node;
  };
  if (widget.textParagraph) {
    const p = formatted(widget.textParagraph.text, 'text-paragraph');
    if (widget.textParagraph.maxLines) {
      p.classList.add('clamped');
      p.style.webkitLineClamp = String(widget.textParagraph.maxLines);
    }
    return wrap(p);
  }
  if (widget.decoratedText) return wrap(renderDecorated(widget.decoratedText, entry));
  if (widget.buttonList) {
    return wrap(el('div', { class: 'button-list' }, (widget.buttonList.buttons || []).map((b) => renderButton(b))));
  }
  if (widget.textInput) return wrap(renderTextInput(widget.textInput, entry));
  if (widget.selectionInput) return wrap(renderSelection(widget.selectionInput, entry));
  if (widget.dateTimePicker) return wrap(renderDateTime(widget.dateTimePicker, entry));
  if (widget.divider) return wrap(el('hr', { class: 'divider' }));
  if (widget.image) {
    const img = el('img', { class: 'image', src: safeUrl(widget.image.imageUrl || ''), alt: widget.image.altText || '' });
    if (widget.image.onClick) {
      img.classList.add('clickable');
      img.addEventListener('click', () => hooks.onClick(widget.image.onClick));
    }
    return wrap(img);
  }
  if (widget.columns) {
    return wrap(el('div', { class: 'columns' }, (widget.columns.columnItems || []).map((column) =>
      el('div', { class: 'column' }, (column.widgets || []).map((w) => renderWidget(w, entry)).filter(Boolean)))));
  }
  if (widget.chipList) {
    return wrap(el('div', { class: 'chip-list' }, (widget.chipList.chips || []).map((chip) =>
      el('button', { type: 'button', class: 'chip', disabled: chip.disabled, onclick: () => hooks.onClick(chip.onClick) }, cardIcon(chip.icon), chip.label || ''))));
  }
  if (widget.grid) {
    const grid = widget.grid;
    return wrap(el('div', { class: 'grid' },
      grid.title ? el('div', { class: 'grid-title', text: grid.title }) : null,
      el('div', { class: 'grid-items' }, (grid.items || []).map((item) =>
        el('button', { type: 'button', class: 'grid-item', onclick: () => grid.onClick && hooks.onClick(grid.onClick) }, item.title || '')))));
  }
  const kind = Object.keys(widget).find((k) => k !== 'horizontalAlignment') || 'unknown';
  return wrap(el('div', { class: 'unsupported', text: `(${kind} is not shown in the preview)` }));
}

function renderDecorated(d, entry) {
  const row = el('div', { class: 'decorated' });
  const icon = cardIcon(d.startIcon || d.icon);
  if (icon) row.append(el('span', { class: 'start-icon' }, icon));
  const main = el('div', { class: 'decorated-main' });
  if (d.topLabel || d.topLabelText) main.append(formatted(d.topLabel || (d.topLabelText || {}).text, 'top-label'));
  const text = formatted(d.text || (d.contentText || {}).text, 'decorated-text');
  if (d.wrapText === false) text.classList.add('nowrap');
  main.append(text);
  if (d.bottomLabel || d.bottomLabelText) main.append(formatted(d.bottomLabel || (d.bottomLabelText || {}).text, 'bottom-label'));
  row.append(main);
  if (d.onClick) {
    main.classList.add('clickable');
    main.setAttribute('role', 'button');
    main.setAttribute('tabindex', '0');
    main.addEventListener('click', () => hooks.onClick(d.onClick));
    main.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        hooks.onClick(d.onClick);
      }
    });
  }
  if (d.button) row.append(renderButton(d.button, 'end'));
  else if (d.switchControl) row.append(renderSwitch(d.switchControl, entry));
  else if (d.endIcon) row.append(el('span', { class: 'end-icon' }, cardIcon(d.endIcon)));
  return row;
}

function renderButton(b, role) {
  const kind = (b.type || (role === 'primary' ? 'FILLED' : '')).toLowerCase();
  const button = el('button', {
    type: 'button',
    class: `btn ${kind.replace('_', '-')} ${role || ''}`.trim(),
    disabled: b.disabled,
    title: b.altText || null,
    'aria-label': b.altText || (b.text ? null : (b.icon && b.icon.altText) || 'button'),
  });
  const icon = cardIcon(b.icon);
  if (icon) button.append(icon);
  if (b.text) button.append(el('span', { text: b.text }));
  if (b.color && kind !== 'borderless' && kind !== 'outlined') {
    const c = b.color;
    const part = (v) => Math.round(Math.max(0, Math.min(1, v || 0)) * 255);
    button.style.background = `rgba(${part(c.red)}, ${part(c.green)}, ${part(c.blue)}, ${c.alpha === undefined ? 1 : c.alpha})`;
    button.style.color = '#fff';
    button.style.borderColor = 'transparent';
  }
  button.addEventListener('click', (e) => {
    e.stopPropagation();
    hooks.onClick(b.onClick);
  });
  return button;
}

function renderSwitch(control, entry) {
  const name = control.name;
  const remembered = entry.values[name];
  const checked = remembered ? remembered.length > 0 : Boolean(control.selected);
  const input = el('input', { type: 'checkbox', class: control.controlType === 'CHECKBOX' ? '' : 'switch', checked, 'aria-label': name || 'switch' });
  const sync = () => {
    if (name) entry.values[name] = input.checked ? [control.value || 'true'] : [];
  };
  if (name) entry.fields[name] = true;
  sync();
  input.addEventListener('change', () => {
    sync();
    if (control.onChangeAction) hooks.runAction(control.onChangeAction);
  });
  return input;
}

function fieldBox(label, name, node, hint) {
  const id = `f-${Math.random().toString(36).slice(2, 10)}`;
  node.id = id;
  return el('div', { class: 'field', 'data-name': name },
    label ? el('label', { for: id, text: label }) : null,
    node,
    hint ? el('div', { class: 'hint', text: hint }) : null,
    el('div', { class: 'required-note', text: 'Required' }));
}

function renderTextInput(t, entry) {
  const name = t.name;
  entry.fields[name] = true;
  const multi = t.type === 'MULTIPLE_LINE';
  const input = multi ? el('textarea', { rows: 3 }) : el('input', { type: 'text' });
  input.name = name;
  if (t.placeholderText) input.placeholder = t.placeholderText;
  if (t.validation && t.validation.characterLimit) input.maxLength = t.validation.characterLimit;
  const remembered = entry.values[name];
  input.value = remembered ? remembered[0] || '' : t.value || '';
  entry.values[name] = [input.value];
  input.addEventListener('input', () => {
    entry.values[name] = [input.value];
    input.closest('.field').classList.remove('missing');
  });
  if (t.onChangeAction) input.addEventListener('change', () => hooks.runAction(t.onChangeAction));
  const suggestions = ((t.initialSuggestions || {}).items || []).map((i) => i.text).filter(Boolean);
  const box = fieldBox(t.label, name, input, t.hintText);
  if (suggestions.length && !multi) {
    const listId = `${input.id}-list`;
    input.setAttribute('list', listId);
    box.append(el('datalist', { id: listId }, suggestions.map((s) => el('option', { value: s }))));
  }
  return box;
}

function renderSelection(s, entry) {
  const name = s.name;
  entry.fields[name] = true;
  const items = s.items || [];
  const remembered = entry.values[name];
  const isOn = (item) => (remembered ? remembered.includes(item.value) : Boolean(item.selected));
  const changed = () => {
    if (s.onChangeAction) hooks.runAction(s.onChangeAction);
  };
  if (s.type === 'DROPDOWN' || s.type === 'MULTI_SELECT') {
    const select = el('select', { multiple: s.type === 'MULTI_SELECT' });
    for (const item of items) select.append(el('option', { value: item.value, selected: isOn(item), text: item.text }));
    const sync = () => {
      entry.values[name] = Array.from(select.selectedOptions).map((o) => o.value);
    };
    sync();
    select.addEventListener('change', () => {
      sync();
      changed();
    });
    return fieldBox(s.label, name, select);
  }
  const kind = s.type === 'RADIO_BUTTON' ? 'radio' : 'checkbox';
  const group = el('div', { class: 'choices', role: kind === 'radio' ? 'radiogroup' : 'group', 'aria-label': s.label || name });
  const boxes = items.map((item) => {
    const input = el('input', { type: kind, name: `${name}-${kind}`, value: item.value, checked: isOn(item), class: s.type === 'SWITCH' ? 'switch' : '' });
    group.append(el('label', { class: 'choice' }, input, el('span', { text: item.text }),
      item.bottomText ? el('small', { text: item.bottomText }) : null));
    return input;
  });
  const sync = () => {
    entry.values[name] = boxes.filter((b) => b.checked).map((b) => b.value);
  };
  sync();
  boxes.forEach((b) => b.addEventListener('change', () => {
    sync();
    changed();
  }));
  return el('div', { class: 'field', 'data-name': name }, s.label ? el('div', { class: 'label', text: s.label }) : null, group,
    el('div', { class: 'required-note', text: 'Required' }));
}

function renderDateTime(d, entry) {
  const name = d.name;
  entry.fields[name] = true;
  const type = d.type === 'DATE_ONLY' ? 'date' : d.type === 'TIME_ONLY' ? 'time' : 'datetime-local';
  const input = el('input', { type });
  const offsetMin = d.timezoneOffsetDate || 0;
  if (d.valueMsEpoch) {
    const local = new Date(Number(d.valueMsEpoch) + offsetMin * 60000).toISOString();
    input.value = type === 'date' ? local.slice(0, 10) : type === 'time' ? local.slice(11, 16) : local.slice(0, 16);
  }
  const sync = () => {
    if (!input.value) {
      delete entry.values[name];
      return;
    }
    if (type === 'time') {
      const [hours, minutes] = input.value.split(':').map(Number);
      entry.values[name] = { kind: 'time', input: { hours, minutes } };
      return;
    }
    const ms = Date.parse(`${type === 'date' ? `${input.value}T00:00` : input.value}Z`) - offsetMin * 60000;
    entry.values[name] = type === 'date'
      ? { kind: 'date', input: { msSinceEpoch: String(ms) } }
      : { kind: 'dateTime', input: { msSinceEpoch: String(ms), hasDate: true, hasTime: true } };
  };
  sync();
  input.addEventListener('change', () => {
    sync();
    if (d.onChangeAction) hooks.runAction(d.onChangeAction);
  });
  return fieldBox(d.label, name, input);
}

export function markRequired(names) {
  for (const name of names) {
    const field = document.querySelector(`#card-area .field[data-name="${CSS.escape(name)}"]`);
    if (field) field.classList.add('missing');
  }
}

export function showMenu(items, anchor) {
  closeMenu();
  const menu = el('div', { class: 'menu', role: 'menu' }, items.map((item) =>
    el('button', { type: 'button', role: 'menuitem', class: 'menu-item', onclick: () => { closeMenu(); hooks.onClick(item.onClick); } }, item.text || '')));
  $('card-area').append(menu);
  if (anchor) {
    const area = $('card-area').getBoundingClientRect();
    const box = anchor.getBoundingClientRect();
    menu.style.top = `${box.bottom - area.top + $('card-area').scrollTop}px`;
  }
  window.setTimeout(() => document.addEventListener('click', closeMenu, { once: true }), 0);
}

function closeMenu() {
  document.querySelectorAll('.menu').forEach((m) => m.remove());
}
