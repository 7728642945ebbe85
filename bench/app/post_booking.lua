-- wrk script: POST /api/v1/bookings, every request a distinct (device, hour) slot.
-- args: <base_epoch_seconds> <device_first_id> <device_count>; token via -H Authorization.
local counter = 0
local base, first_id, count

init = function(args)
  base = tonumber(args[1])
  first_id = tonumber(args[2])
  count = tonumber(args[3])
end

request = function()
  local n = counter
  counter = counter + 1
  local device = first_id + (n % count)
  local start = base + math.floor(n / count) * 3600
  local body = string.format(
    '{"device_id": %d, "start": "%s", "end": "%s", "purpose": "bench"}',
    device, os.date("!%Y-%m-%dT%H:%M:%SZ", start), os.date("!%Y-%m-%dT%H:%M:%SZ", start + 3600))
  -- wrk.format does not merge a given headers table with -H headers: copy them in
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/v1/bookings", headers, body)
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local non2xx = summary.errors.status
  local sockerr = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f non2xx=%d sockerr=%d\n",
    summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, non2xx, sockerr))
end
