-- wrk script for scripts/bench-vs-pushgateway.sh: every request is a distinct deployment.
--
--   wrk -t T -c C -d D --latency -s scripts/bench/deployments.lua URL -- MODE REPOS BASE T
--
-- MODE  push: the handbook recipe's deployment push (Pushgateway protocol), as its
--             `curl --data-binary @- .../metrics/job/dora/instance/${REPO//\//_}` sends it:
--               POST /metrics/job/dora/instance/acme_svc-0042
--               # TYPE dora_deployment_timestamp gauge
--               dora_deployment_timestamp{repo="acme/svc-0042",env="production"} <unix s>
--       api:  Pacer's JSON API, POST /api/v1/deployments, the same deployment with a sha and
--             one change (started one hour before the deployment).
-- REPOS number of repositories the stream cycles over (acme/svc-0000 ...).
-- BASE  Unix seconds of the first deployment.
-- T     wrk's thread count (-t), so that threads never reuse a sequence number.
--
-- Request k (k = n * T + thread, n counting the thread's own requests) deploys repo
-- k % REPOS at BASE + k seconds, so no two requests of a run carry the same (repo, time):
-- Pacer derives a push's id from service, environment and time and would count a repeat as
-- already recorded, which is not the work being measured.
--
-- done() prints one machine-readable line starting with "BENCH " for the shell script:
-- completed requests, their non-2xx answers (counted here, not by wrk, which only counts
-- >= 400), requests sent, wrk's socket errors, latency percentiles (µs) and the highest k.

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

function init(args)
   mode = args[1] or "push"
   repos = tonumber(args[2] or "1000")
   base = tonumber(args[3] or "1700000000")
   nthreads = tonumber(args[4] or "1")
   sent = 0
   non2xx = 0
   first_error = ""
   if mode ~= "push" and mode ~= "api" then
      error("mode must be push or api, got " .. tostring(mode))
   end
end

-- What curl --data-binary sends by default, as the recipe's step does.
local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local json = { ["Content-Type"] = "application/json" }

function request()
   local k = sent * nthreads + tid
   sent = sent + 1
   local repo = string.format("acme/svc-%04d", k % repos)
   local t = base + k
   if mode == "api" then
      local sha = string.format("%08x%032x", tid, sent)
      local body = string.format(
         '{"service":"%s","environment":"production","status":"success",' ..
         '"deployed_at":"%s","sha":"%s","changes":[{"id":"%s","started_at":"%s"}]}',
         repo, os.date("!%Y-%m-%dT%H:%M:%SZ", t), sha, sha,
         os.date("!%Y-%m-%dT%H:%M:%SZ", t - 3600))
      return wrk.format("POST", "/api/v1/deployments", json, body)
   end
   local instance = string.gsub(repo, "/", "_")
   local body = string.format(
      '# TYPE dora_deployment_timestamp gauge\n' ..
      'dora_deployment_timestamp{repo="%s",env="production"} %d\n', repo, t)
   return wrk.format("POST", "/metrics/job/dora/instance/" .. instance, form, body)
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_error == "" then
         first_error = status .. " " .. string.sub(string.gsub(body or "", "%s+", " "), 1, 300)
      end
   end
end

function done(summary, latency, requests)
   local sent_total, non2xx_total, max_k, first = 0, 0, -1, ""
   for _, thread in ipairs(threads) do
      local s = thread:get("sent") or 0
      local tid = thread:get("tid")
      local n = thread:get("nthreads") or 1
      sent_total = sent_total + s
      non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
      if s > 0 and (s - 1) * n + tid > max_k then
         max_k = (s - 1) * n + tid
      end
      local e = thread:get("first_error") or ""
      if first == "" and e ~= "" then
         first = e
      end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d non2xx=%d sent=%d max_k=%d " ..
      "connect=%d read=%d write=%d timeout=%d wrk_status=%d " ..
      "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f\n",
      summary.requests, summary.duration, non2xx_total, sent_total, max_k,
      e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
   if first ~= "" then
      io.write("BENCH_FIRST_ERROR " .. first .. "\n")
   end
end
