from learnsim.cli import main

main()
