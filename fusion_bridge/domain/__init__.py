"""Pure code: no database, no network, no clock of its own. Values and arithmetic the services share."""
