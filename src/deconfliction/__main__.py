from deconfliction.cli import main

main()
