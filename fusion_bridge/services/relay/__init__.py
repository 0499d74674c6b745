"""The inventory relay: a durable, bounded queue of INVENTORYs forwarded to GLPI's own import."""
