"""JupyterHub's configuration for `dockerlab classroom up` (the hub reads this file: `jupyterhub -f`).

It holds no settings of its own: `up` writes them as JSON (`classroom.json` in the classroom's state
folder, 0600) and names that file in DOCKERLAB_CLASSROOM_SETTINGS. Secrets are read from 0600 files, never
from argv: the hub's API token for the kit's own commands; the proxy's token and the single-user servers'
tokens the hub makes itself and passes in environment variables.
"""
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 -- provided by JupyterHub when it loads this file

settings = json.loads(Path(os.environ["DOCKERLAB_CLASSROOM_SETTINGS"]).read_text())
state = Path(settings["state_dir"])

# The hub: public on the instructor's address, its own API on the students' network (their servers call it).
c.JupyterHub.bind_url = f"http://{settings['ip']}:{settings['port']}"
c.JupyterHub.hub_ip = settings["hub_ip"]
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "cookie_secret")
c.JupyterHub.pid_file = str(state / "hub.pid")
c.JupyterHub.cleanup_servers = True  # `down` (the hub stopping) stops every student's server

# Who may log in: the roster and the instructor (admin). Students choose their password at first login.
c.JupyterHub.authenticator_class = "firstuseauthenticator.FirstUseAuthenticator"
c.FirstUseAuthenticator.dbm_path = str(state / "passwords.dbm")
c.FirstUseAuthenticator.create_users = False
c.FirstUseAuthenticator.min_password_length = 8
c.Authenticator.allowed_users = set(settings["students"]) | {settings["instructor"]}
c.Authenticator.admin_users = {settings["instructor"]}

# Each student's server: a container of the student image with their own engine inside.
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = settings["image"]
c.DockerSpawner.cmd = ["jupyterhub-singleuser", "--allow-root"]
c.DockerSpawner.network_name = settings["network"]
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.remove = True  # a stopped server's container goes; its disk (the work) stays
c.DockerSpawner.name_template = "dockerlab-classroom-{username}"
c.DockerSpawner.notebook_dir = settings["work_dir"]
c.DockerSpawner.volumes = settings["volumes"]  # the student's disk ({username} templated), the isolation's mounts
# (fields create_host_config has no words for, such as unmasked system paths, go in raw)
c.DockerSpawner.extra_create_kwargs = {"labels": settings["labels"], "host_config": settings["raw_host_config"]}
# The image's own files are read-only: what a student writes goes to their disk (home, engine) or to a tmpfs
# counted in their memory (/tmp, /run, /var/log), so nothing they do grows the host engine's storage.
c.DockerSpawner.extra_host_config = {**settings["host_config"], "init": True, "pids_limit": settings["pids_limit"],
                                     "read_only": True,
                                     "tmpfs": {"/tmp": "mode=1777", "/run": "mode=755", "/var/log": "mode=755"}}
c.DockerSpawner.mem_limit = settings["mem_limit"]
c.DockerSpawner.cpu_limit = settings["cpu_limit"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 600  # a first start on a busy host: the student's engine, then JupyterLab
c.Spawner.http_timeout = 600

# The kit's own commands (status, start-all, the tests) use the hub's API with a token kept in a 0600 file.
c.JupyterHub.services = [
    {"name": "dockerlab", "api_token": (state / "api-token").read_text().strip()},
    {"name": "idle-culler",
     "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={settings['idle_timeout']}"]},
]
c.JupyterHub.load_roles = [
    {"name": "dockerlab", "services": ["dockerlab"],
     "scopes": ["admin:users", "admin:servers", "access:servers", "read:hub", "tokens"]},
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
]
