-- wrk: the same POST the outbound benchmark sends (the baseline for libcurl).
wrk.method = "POST"
wrk.body = '{"chat_id":1,"text":"hello from the bench"}'
wrk.headers["Content-Type"] = "application/json"
