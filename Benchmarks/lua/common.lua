-- Shared helpers for the drivesd benchmark's wrk scripts (loaded with dofile from each script).
-- Each wrk thread has its own Lua state; setup() (main state) hands each one a distinct id so
-- threads walk disjoint slices of the uuid list.
local M = {}

function M.read_lines(path)
  local t = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do
    if #line > 0 then t[#t + 1] = line end
  end
  f:close()
  assert(#t > 0, "no lines in " .. path)
  return t
end

function M.read_file(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

function M.install_setup()
  local next_id = 0
  setup = function(thread)
    thread:set("thread_id", next_id)
    next_id = next_id + 1
  end
end

-- wrk.format() uses its headers argument instead of wrk.headers (the -H ones), not on top of
-- them: build per-request header tables from a copy of wrk.headers.
function M.headers(extra)
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

return M
