-- wrk script: POST /oauth/token, client_credentials with client_secret_basic.
-- KG_BASIC is base64("client_id:client_secret"), set by bench/token.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("KG_BASIC")
wrk.body = "grant_type=client_credentials"
