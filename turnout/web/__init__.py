"""The dashboard: a small web app over the cluster's objects and telemetry.

Pages for services (per-version requests, errors, latency), version comparison, the traffic map and
rollouts (with promote / abort), served by `app.make_app` as HTML/JS/CSS package files plus JSON
routes that reuse `turnout.telemetry.api.json_api`. Works offline: no external assets.
"""
