"""``fusion-bridge agent|device|collect|esx`` and credential updates: agents and what they inventory with."""
