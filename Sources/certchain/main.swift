import CertChainNode
print("certchain")
