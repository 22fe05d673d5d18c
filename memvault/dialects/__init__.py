"""HTTP dialects: each translates one service's API onto the engine."""
