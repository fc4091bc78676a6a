"""Networks: the stylizing network T, its conditioners, and the VGG loss network."""
