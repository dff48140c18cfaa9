"""``python -m local.bedrock_emulator [moto_server options]``: moto's server with the emulator."""

from local.bedrock_emulator.moto_routes import serve

if __name__ == "__main__":
    serve()
