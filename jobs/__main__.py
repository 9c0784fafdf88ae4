from jobs.entrypoint import main

main()
