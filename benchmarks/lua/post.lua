-- wrk script for the write benchmarks (benchmarks/bench.py): every request is a POST of a
-- form, each with its own one-time token, so that every request really writes.
--
--   wrk ... -s benchmarks/lua/post.lua http://127.0.0.1:PORT -- SLOTS THREADS PREFIX
--
-- SLOTS is a file with one request per line: PATH <tab> COOKIE HEADER <tab> FORM BODY, where
-- the body's @TOKEN@ is replaced by a token unique to the request (PREFIX-thread-slot). Each
-- of the THREADS threads takes every THREADS-th line, and sends each line once: a slot is
-- something that can be written once only (a diary day of one patient, say). A thread that
-- has used all its slots stops (and says so at the end), rather than send requests that
-- would write nothing.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   table.insert(threads, thread)
   next_id = next_id + 1
end

function init(args)
   local file, nthreads, prefix = args[1], tonumber(args[2]), args[3]
   slots = {}
   local i = 0
   for line in io.lines(file) do
      if i % nthreads == id then
         local path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
         table.insert(slots, { path, cookie, body })
      end
      i = i + 1
   end
   used = 0
   exhausted = 0
   token_prefix = prefix .. "-" .. id .. "-"
end

local function build(index)
   local slot = slots[index]
   local body = slot[3]:gsub("@TOKEN@", token_prefix .. index)
   return wrk.format("POST", slot[1], {
      ["Cookie"] = slot[2],
      ["Content-Type"] = "application/x-www-form-urlencoded",
   }, body)
end

function request()
   if used >= #slots then
      -- Out of slots: stop this thread. The request returned meanwhile repeats the last one,
      -- token and all, so it stores nothing new; the script counts it as a shortfall.
      exhausted = exhausted + 1
      wrk.thread:stop()
      return build(#slots)
   end
   used = used + 1
   return build(used)
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      io.write(string.format("bench-slots thread=%d used=%d exhausted=%d\n",
         thread:get("id"), thread:get("used"), thread:get("exhausted")))
   end
end
