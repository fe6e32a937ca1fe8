"""The app's screens: the main screen, dialogs (help, confirm, path) and the settings form."""
