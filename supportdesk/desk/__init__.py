"""The one door both front-ends use: settings, the engine, the acting agent (the composition root)."""
