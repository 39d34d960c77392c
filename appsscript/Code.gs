/**
 * Meeting Assistant as an Apps Script add-on: a thin forwarder to the HTTP server.
 *
 * Every trigger and every card action POSTs the event object to the same endpoint the HTTP
 * deployment uses (PUBLIC_BASE_URL + path), then turns the server's card JSON back into
 * CardService objects, because Apps Script add-ons must return those
 * (https://developers.google.com/apps-script/reference/card-service).
 *
 * Set the script property PUBLIC_BASE_URL (Project settings > Script properties) to the server's
 * origin, and put the same origin in appsscript.json's urlFetchWhitelist.
 *
 * Identity: Apps Script cannot mint the add-on service-account token of HTTP deployments, so the
 * request carries the rep's own ID token (ScriptApp.getIdentityToken(), audience = this
 * script's OAuth client) as Bearer token and as authorizationEventObject.userIdToken; set the
 * server's ADDON_APPS_SCRIPT_CLIENT_ID to that client id (without it Apps Script traffic is refused).
 */

var PLACEHOLDER_ORIGIN = 'https://PUBLIC_BASE_URL';
var PATH_PARAMETER = '_addon_path';
var TRIGGER_PATHS = {
  home: '/addon/home',
  gmailMessage: '/addon/gmail/message',
  calendarEvent: '/addon/calendar/event',
};
var ACTION_PATHS = [
  '/addon/actions/open-meeting',
  '/addon/actions/open-contact',
  '/addon/actions/add-contact',
  '/addon/actions/start-meeting',
  '/addon/actions/add-note',
  '/addon/actions/disconnect',
  '/addon/actions/refresh',
  '/addon/actions/log-email',
  '/addon/actions/add-email-contact',
];

/** Homepage trigger (Gmail and Calendar). */
function onHomepage(e) {
  return forward_(TRIGGER_PATHS.home, e, true);
}

/** Gmail contextual trigger: a message is open. */
function onGmailMessage(e) {
  return forward_(TRIGGER_PATHS.gmailMessage, e, true);
}

/** Calendar eventOpen trigger. */
function onCalendarEventOpen(e) {
  return forward_(TRIGGER_PATHS.calendarEvent, e, true);
}

/** Every card action: the server path travels as a hidden action parameter. */
function onAction(e) {
  var params = (e && e.commonEventObject && e.commonEventObject.parameters) || {};
  var path = params[PATH_PARAMETER];
  if (ACTION_PATHS.indexOf(path) < 0) {
    throw new Error('Unknown add-on action');
  }
  return forward_(path, e, false);
}

function baseUrl_() {
  var configured = PropertiesService.getScriptProperties().getProperty('PUBLIC_BASE_URL');
  return String(configured || PLACEHOLDER_ORIGIN).replace(/\/+$/, '');
}

function forward_(path, e, isTrigger) {
  var event = JSON.parse(JSON.stringify(e || {}));
  var common = event.commonEventObject || (event.commonEventObject = {});
  if (common.parameters) {
    delete common.parameters[PATH_PARAMETER];
  }
  var idToken = ScriptApp.getIdentityToken();
  event.authorizationEventObject = {
    userOAuthToken: ScriptApp.getOAuthToken(),
    userIdToken: idToken,
  };
  var response = UrlFetchApp.fetch(baseUrl_() + path, {
    method: 'post',
    contentType: 'application/json',
    payload: JSON.stringify(event),
    headers: {Authorization: 'Bearer ' + idToken},
    muteHttpExceptions: true,
    followRedirects: false,
  });
  var status = response.getResponseCode();
  if (status !== 200) {
    // Never log the event: it holds tokens.
    console.warn('Meeting Assistant server answered ' + status + ' for ' + path);
    return errorResponse_(isTrigger);
  }
  return toAppsScript_(JSON.parse(response.getContentText()), isTrigger);
}

function errorResponse_(isTrigger) {
  var card = buildCard_({
    header: {title: 'Something went wrong'},
    sections: [{widgets: [{textParagraph: {text: 'The Meeting Assistant server could not answer. Try again in a moment.'}}]}],
  });
  if (isTrigger) {
    return card;
  }
  return CardService.newActionResponseBuilder()
    .setNavigation(CardService.newNavigation().updateCard(card))
    .build();
}

// ----------------------------------------------------------------------------- responses

function toAppsScript_(body, isTrigger) {
  if (body.requesting_google_scopes) {
    ScriptApp.requireScopes(ScriptApp.AuthMode.FULL, body.requesting_google_scopes.scopes || []);
  }
  var action = isTrigger ? body.action : body.renderActions && body.renderActions.action;
  if (!action) {
    throw new Error('Unexpected response from the Meeting Assistant server');
  }
  if (isTrigger) {
    var cards = (action.navigations || []).map(function (nav) {
      return buildCard_(nav.pushCard || nav.updateCard);
    });
    return cards.length === 1 ? cards[0] : cards;
  }
  var builder = CardService.newActionResponseBuilder();
  if (action.navigations && action.navigations.length) {
    var navigation = CardService.newNavigation();
    action.navigations.forEach(function (nav) {
      if (nav.pushCard) navigation = navigation.pushCard(buildCard_(nav.pushCard));
      else if (nav.updateCard) navigation = navigation.updateCard(buildCard_(nav.updateCard));
      else if (nav.popToRoot) navigation = navigation.popToRoot();
      else if (nav.pop) navigation = navigation.popCard();
      else if (nav.popToCard) navigation = navigation.popToNamedCard(nav.popToCard);
      else throw new Error('Unknown navigation');
    });
    builder.setNavigation(navigation);
  }
  if (action.link) {
    builder.setOpenLink(buildOpenLink_(action.link));
  }
  if (action.notification) {
    builder.setNotification(CardService.newNotification().setText(action.notification.text));
  }
  if (body.renderActions.stateChanged) {
    builder.setStateChanged(true);
  }
  return builder.build();
}

// ----------------------------------------------------------------------------- cards

function buildCard_(json) {
  var builder = CardService.newCardBuilder();
  if (json.name) builder.setName(json.name);
  if (json.header) {
    var header = CardService.newCardHeader().setTitle(json.header.title);
    if (json.header.subtitle) header.setSubtitle(json.header.subtitle);
    if (json.header.imageUrl) header.setImageUrl(json.header.imageUrl);
    builder.setHeader(header);
  }
  (json.sections || []).forEach(function (s) {
    var section = CardService.newCardSection();
    if (s.header) section.setHeader(s.header);
    if (s.collapsible) section.setCollapsible(true);
    if (s.uncollapsibleWidgetsCount) section.setNumUncollapsibleWidgets(s.uncollapsibleWidgetsCount);
    (s.widgets || []).forEach(function (w) {
      section.addWidget(buildWidget_(w));
    });
    builder.addSection(section);
  });
  (json.cardActions || []).forEach(function (a) {
    builder.addCardAction(applyOnClick_(CardService.newCardAction().setText(a.actionLabel), a.onClick));
  });
  if (json.fixedFooter) {
    var footer = CardService.newFixedFooter().setPrimaryButton(buildButton_(json.fixedFooter.primaryButton));
    if (json.fixedFooter.secondaryButton) {
      footer.setSecondaryButton(buildButton_(json.fixedFooter.secondaryButton));
    }
    builder.setFixedFooter(footer);
  }
  return builder.build();
}

function buildWidget_(w) {
  if (w.textParagraph) {
    return CardService.newTextParagraph().setText(w.textParagraph.text);
  }
  if (w.divider) {
    return CardService.newDivider();
  }
  if (w.buttonList) {
    var set = CardService.newButtonSet();
    w.buttonList.buttons.forEach(function (b) {
      set.addButton(buildButton_(b));
    });
    return set;
  }
  if (w.textInput) {
    var t = w.textInput;
    var input = CardService.newTextInput().setFieldName(t.name);
    if (t.label) input.setTitle(t.label);
    if (t.hintText) input.setHint(t.hintText);
    if (t.value) input.setValue(t.value);
    if (t.type === 'MULTIPLE_LINE') input.setMultiline(true);
    return input;
  }
  if (w.decoratedText) {
    var d = w.decoratedText;
    var text = CardService.newDecoratedText().setText(d.text);
    if (d.topLabel) text.setTopLabel(d.topLabel);
    if (d.bottomLabel) text.setBottomLabel(d.bottomLabel);
    if (d.wrapText) text.setWrapText(true);
    if (d.startIcon && d.startIcon.knownIcon) {
      text.setStartIcon(CardService.newIconImage().setIcon(CardService.Icon[d.startIcon.knownIcon]));
    }
    if (d.button) text.setButton(buildButton_(d.button));
    if (d.onClick) applyOnClick_(text, d.onClick);
    return text;
  }
  throw new Error('Unsupported widget: ' + Object.keys(w).join(','));
}

function buildButton_(b) {
  var button = CardService.newTextButton().setText(b.text);
  if (b.type === 'FILLED') button.setTextButtonStyle(CardService.TextButtonStyle.FILLED);
  if (b.disabled) button.setDisabled(true);
  return applyOnClick_(button, b.onClick);
}

function applyOnClick_(target, onClick) {
  if (onClick.action) return target.setOnClickAction(buildAction_(onClick.action));
  if (onClick.openLink) return target.setOpenLink(buildOpenLink_(onClick.openLink));
  if (onClick.openDynamicLinkAction) {
    return target.setOnClickOpenLinkAction(buildAction_(onClick.openDynamicLinkAction));
  }
  throw new Error('Unsupported onClick: ' + Object.keys(onClick).join(','));
}

function buildAction_(json) {
  var base = baseUrl_();
  if (json['function'].indexOf(base + '/') !== 0) {
    throw new Error('Action outside the server');
  }
  var parameters = {};
  (json.parameters || []).forEach(function (p) {
    parameters[p.key] = p.value;
  });
  parameters[PATH_PARAMETER] = json['function'].slice(base.length);
  return CardService.newAction()
    .setFunctionName('onAction')
    .setParameters(parameters)
    .setLoadIndicator(CardService.LoadIndicator.SPINNER);
}

function buildOpenLink_(json) {
  var link = CardService.newOpenLink().setUrl(json.url);
  link.setOpenAs(json.openAs === 'OVERLAY' ? CardService.OpenAs.OVERLAY : CardService.OpenAs.FULL_SIZE);
  if (json.onClose === 'RELOAD') link.setOnClose(CardService.OnClose.RELOAD);
  return link;
}
