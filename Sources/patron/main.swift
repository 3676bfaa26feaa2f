print("patron")
