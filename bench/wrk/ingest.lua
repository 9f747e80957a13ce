-- wrk script of bench/ingest.py: POSTs log documents with fresh log_ids.
--   wrk ... -s bench/wrk/ingest.lua URL -- TEMPLATE_FILE BATCH_SIZE API_KEY
-- BATCH_SIZE 0 posts one document per request, N a {"logs": [...]} batch of N.
-- Prints one JSON line at the end with the figures bench/ingest.py reads.

local threads = {}
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("tid", thread_number)
  table.insert(threads, thread)
end

local template, batch
local counter = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  template = file:read("*a")
  file:close()
  batch = tonumber(args[2])
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  wrk.headers["Content-Type"] = "application/json"
  math.randomseed(os.time() + tid * 104729)
end

local function hex(digits)
  local parts = {}
  for i = 1, digits / 4 do
    parts[i] = string.format("%04x", math.random(0, 0xffff))
  end
  return table.concat(parts)
end

-- A version-4 UUID whose last part holds the thread and a counter: unique in the run.
local function log_id()
  counter = counter + 1
  return string.format(
    "%s-%s-4%s-a%s-%02x%010x", hex(8), hex(4), string.sub(hex(4), 2), string.sub(hex(4), 2),
    tid % 256, counter
  )
end

local function document()
  local body = string.gsub(template, "__LOG_ID__", log_id(), 1)
  return body
end

function request()
  local body
  if batch == 0 then
    body = document()
  else
    local parts = {}
    for i = 1, batch do
      parts[i] = document()
    end
    body = '{"logs":[' .. table.concat(parts, ",") .. "]}"
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "status_errors": %d, '
      .. '"socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout
  ))
end
