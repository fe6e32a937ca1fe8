"""The app's screens: dialogs (help, confirm, path) and the settings form."""
