echo "the app"
