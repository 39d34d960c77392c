"""The Salesforce activity sync: the account's org (``org``, ``oauth``, ``client``), the
links between CRM objects and Salesforce records (``links``), the pull (``pull``, ``apply``),
the settings document and mappings (``document``), REST (``api``) and jobs (``tasks``);
``feature`` installs it."""
