-- A read-mostly mix: 80% GET one drive, 10% GET /drives/detail/?limit=20, 5% PUT meta,
-- 5% POST one drive (the creates go to a second account, so the read account keeps its count):
-- wrk ... -s mixed.lua URL -- UUIDFILE WRITER_AUTH_HEADER_VALUE
-- The sequence is deterministic (a fixed 20-step pattern), so every run sends the same mix.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
C.install_setup()

local uuids, i, step, n
local json
local writer
local create_body = '{"objects":[{"name":"mixed","size":1073741824,"media":"disk"}]}'
-- 20 steps: 16 get, 2 list, 1 put, 1 create
local pattern = { "g", "g", "g", "g", "l", "g", "g", "g", "g", "p", "g", "g", "g", "g", "l", "g", "g", "g", "g", "c" }

function init(args)
  uuids = C.read_lines(args[1])
  json = C.headers({ ["Content-Type"] = "application/json" })
  writer = C.headers({ ["Content-Type"] = "application/json", ["Authorization"] = args[2] })
  i = ((thread_id or 0) * 7919) % #uuids
  step = (thread_id or 0) * 3
  n = 0
end

function request()
  step = step % #pattern + 1
  local kind = pattern[step]
  if kind == "l" then
    return wrk.format("GET", "/api/2.0/drives/detail/?limit=20")
  elseif kind == "c" then
    return wrk.format("POST", "/api/2.0/drives/", writer, create_body)
  end
  i = i % #uuids + 1
  if kind == "p" then
    n = n + 1
    local body = '{"name":"d","size":1073741824,"media":"disk","meta":{"mixed":"' .. n .. '"}}'
    return wrk.format("PUT", "/api/2.0/drives/" .. uuids[i] .. "/", json, body)
  end
  return wrk.format("GET", "/api/2.0/drives/" .. uuids[i] .. "/")
end
