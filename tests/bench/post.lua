-- wrk script: durable POST /api/v1/jobs of a /bin/true job
wrk.method = "POST"
wrk.body = '{"command":["/bin/true"]}'
wrk.headers["Content-Type"] = "application/json"
