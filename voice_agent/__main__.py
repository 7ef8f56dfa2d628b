from voice_agent.cli import app

app()
