#!/bin/sh
# Pretends to install the dependencies listed in deps.txt (a slow step in real life).
set -e
mkdir -p /deps
sleep 1
echo $(cat /app/deps.txt) > /deps/installed.txt
date > /deps/installed-at.txt
