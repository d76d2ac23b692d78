-- POST /api/2.0/drives/{uuid}/action/?do=resize, each drive growing by 1 GiB per visit:
-- wrk ... -s resize.lua URL -- UUIDFILE THREADS
-- Threads take disjoint slices of the list, so a drive is revisited only after the whole slice
-- has been walked (by then the worker, at time scale 0, has finished the previous resize).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
C.install_setup()

local slice, i, pass
local headers
local GiB = 1073741824

function init(args)
  headers = C.headers({ ["Content-Type"] = "application/json" })
  local all = C.read_lines(args[1])
  local threads = tonumber(args[2] or "2")
  local id = thread_id or 0
  slice = {}
  for k = 1, #all do
    if (k - 1) % threads == id then slice[#slice + 1] = all[k] end
  end
  assert(#slice > 0, "empty slice")
  i, pass = 0, 1
end

function request()
  i = i + 1
  if i > #slice then i, pass = 1, pass + 1 end
  local body = string.format('{"name":"d","size":%d,"media":"disk"}', (pass + 1) * GiB)
  return wrk.format("POST", "/api/2.0/drives/" .. slice[i] .. "/action/?do=resize", headers, body)
end
