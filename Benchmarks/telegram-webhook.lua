-- wrk script: signed Telegram updates with unique update_ids, spread over 1000 chats.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  secret = os.getenv("SECRET") or "sample-secret"
  path = os.getenv("WEBHOOK_PATH") or "/webhooks/telegram"
  run = tonumber(os.getenv("RUN") or "1")
end

request = function()
  counter = counter + 1
  local id = run * 1000000000 + tid * 10000000 + counter
  local chat = (id % 1000) + 1
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"date":1700000000,"chat":{"id":%d,"type":"private","first_name":"Bench"},"from":{"id":%d,"is_bot":false,"first_name":"Bench"},"text":"benchmark message %d"}}',
    id, id, chat, chat, id)
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = secret}, body)
end

done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("non-2xx: %d, socket errors: %d\n", non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
