-- User writes for wrk: creates and first-name updates through /v1, alternately. Environment:
--   BENCH_N        seeded users (updates change user 1..N, at random)
--   BENCH_AUTH     the Authorization header
--   BENCH_RUN      a tag that makes this run's usernames and first names unique
--   BENCH_RATE     requests per second in all, paced per thread; 0 or unset: as fast as the server answers
--   BENCH_THREADS  wrk's --threads (the pace is shared among them)
--   BENCH_LOG      when set, each thread appends "<first name> <microseconds since the epoch>" for every
--                  successful write to BENCH_LOG.<thread>, when the response arrives
-- Every write sets a unique first name, which its event's payload carries (`firstName`): that is how
-- a consumer finds the response of the write whose event it got.
-- done() prints one JSON line, as request.lua does.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(0, ts)  -- CLOCK_REALTIME: Python's time.time() in the consumer
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local n = tonumber(os.getenv("BENCH_N"))
local auth = os.getenv("BENCH_AUTH")
local run = os.getenv("BENCH_RUN") or "0"
local rate = tonumber(os.getenv("BENCH_RATE") or "0") or 0
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local log_prefix = os.getenv("BENCH_LOG") or ""

local counter = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

local thread_number = 0
function setup(thread)
  thread_number = thread_number + 1
  thread:set("tid", thread_number)
end

local log_file
function init(args)
  wrk.headers["Authorization"] = auth
  wrk.headers["Content-Type"] = "application/json"
  if log_prefix ~= "" then
    log_file = io.open(log_prefix .. "." .. tid, "w")
    log_file:setvbuf("line")
  end
end

function request()
  counter = counter + 1
  local token = string.format("w%s-%d-%d", run, tid, counter)
  if counter % 2 == 1 then
    return wrk.format("POST", "/v1/users", nil, string.format(
      '{"username":"%s","email":"%s@bench.example.com","first_name":"%s"}', token, token, token))
  end
  local id = string.format("00000000-0000-4000-8000-%012d", math.random(1, n))
  return wrk.format("PATCH", "/v1/users/" .. id, nil, string.format('{"first_name":"%s"}', token))
end

if rate > 0 then
  -- Each thread sends at rate/threads: a request waits for its slot, and a thread that fell behind
  -- (every connection busy) does not burst to catch up, so the achieved rate shows what the server took.
  local interval_ms = 1000 * threads / rate
  local next_ms
  function delay()
    local now = now_us() / 1000
    if next_ms == nil or next_ms < now then next_ms = now end
    local wait = next_ms - now
    next_ms = next_ms + interval_ms
    return math.floor(wait)
  end
end

if log_prefix ~= "" then
  function response(status, headers, body)
    if status < 300 then
      local token = body:match('"first_name":"([^"]*)"')
      if token then log_file:write(token, " ", string.format("%d", now_us()), "\n") end
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, errors,
    summary.errors.status))
end
