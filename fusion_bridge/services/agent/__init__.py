"""The agent's side: the XML exchange (PROLOG, INVENTORY, results), handing out runs, progress reports, agents and their addresses, the plugin's switches."""
