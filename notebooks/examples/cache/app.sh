#!/bin/sh
# The application: prints its version and the dependencies it found.
echo "app version 1"
echo "dependencies: $(cat /deps/installed.txt)"
