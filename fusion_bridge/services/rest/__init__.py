"""The REST calls of agent runs: getConfig, Deploy (getJobs, file parts, status), Collect and ESX."""
