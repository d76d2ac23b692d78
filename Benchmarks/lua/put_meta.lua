-- PUT /api/2.0/drives/{uuid}/ changing only meta (same name, size and media):
-- wrk ... -s put_meta.lua URL -- UUIDFILE SIZE
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
C.install_setup()

local uuids, i, size, n
local headers

function init(args)
  headers = C.headers({ ["Content-Type"] = "application/json" })
  uuids = C.read_lines(args[1])
  size = args[2] or "1073741824"
  i = ((thread_id or 0) * 7919) % #uuids
  n = 0
end

function request()
  i = i % #uuids + 1
  n = n + 1
  local body = '{"name":"d","size":' .. size .. ',"media":"disk","meta":{"bench":"t' ..
      tostring(thread_id or 0) .. '-' .. n .. '"}}'
  return wrk.format("PUT", "/api/2.0/drives/" .. uuids[i] .. "/", headers, body)
end
