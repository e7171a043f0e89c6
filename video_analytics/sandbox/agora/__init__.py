"""The sandbox's Agora player-log generator."""
