-- wrk script: POST /sign-in with a wrong password (every attempt a full argon2id
-- verification once the throttle is raised). SIGN_IN_EMAIL and ORIGIN are set by
-- bench/dashboard.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Origin"] = os.getenv("ORIGIN")
wrk.body = "email=" .. os.getenv("SIGN_IN_EMAIL") .. "&password=not+the+right+password+at+all"
