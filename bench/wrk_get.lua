-- GETs the request targets listed in PATHS_FILE (one per line) in turn, from a random start.
-- Prints one JSON line with the counts, bytes read and latency percentiles when the run ends.
local paths = {}
local index = 1

function init(args)
  for line in io.lines(os.getenv("PATHS_FILE")) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  index = math.random(#paths)
end

function request()
  local path = paths[index]
  index = index % #paths + 1
  return wrk.format("GET", path, {["User-Agent"] = "FusionInventory-Agent_v2.6-3"})
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"bytes":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"status_errors":%d,' ..
    '"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.bytes, summary.duration, errors.connect, errors.read, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
