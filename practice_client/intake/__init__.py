"""practice_client.intake"""
