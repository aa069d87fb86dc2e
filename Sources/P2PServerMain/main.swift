print("p2pcore-server: not yet implemented")
