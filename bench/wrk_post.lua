-- Posts length-prefixed request bodies from BODIES_FILE in turn, from a random start unless
-- RANDOM_START=0 (then each body is posted once before any repeats).
-- Prints one JSON line with the counts and latency percentiles when the run ends.
local bodies = {}
local index = 1
local path = os.getenv("BENCH_PATH") or "/plugins/fusioninventory/"

function init(args)
  local file = assert(io.open(os.getenv("BODIES_FILE"), "rb"))
  local data = file:read("*a")
  file:close()
  local pos = 1
  while pos <= #data do
    local len = tonumber(data:sub(pos, pos + 7))
    bodies[#bodies + 1] = data:sub(pos + 8, pos + 7 + len)
    pos = pos + 8 + len
  end
  if os.getenv("RANDOM_START") ~= "0" then
    index = math.random(#bodies)
  end
end

function request()
  local body = bodies[index]
  index = index % #bodies + 1
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-compress-zlib",
    ["User-Agent"] = "FusionInventory-Agent_v2.6-3",
  }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
